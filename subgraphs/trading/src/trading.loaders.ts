/**
 * Per-request DataLoaders: the look-ups that list fields (`Order.events`, `Order.trades`, `Trade.order`,
 * `Account.orders`, ...) and entity references (`_entities` with many representations) make once per
 * item are gathered per tick of the event loop into one tenant transaction per loader, whatever the
 * number of items. Every batch runs in the caller's tenant scope, as the single look-ups did.
 *
 * Loaders do not cache (`cache: false`): a graphql-ws subscription keeps one context for all its events,
 * and a cached order or event list would go stale between them. Batches still merge duplicate keys.
 */
import DataLoader from 'dataloader';
import type { AccountService } from './account.service.js';
import type { OrderStatus } from './db/tenant-schema.js';
import type {
  AccountModel,
  LedgerEntryModel,
  OrderEventModel,
  OrderModel,
  PositionModel,
  TradeModel,
} from './models.js';
import type { Caller } from './tenant-scope.js';

/** A page of one account's orders (Account.orders arguments, page size clamped). */
export interface AccountOrdersKey {
  accountId: string;
  filter: { status: OrderStatus | null; symbol: string | null; first: number };
}

/** A page of one account's executions (Account.trades arguments, page size clamped). */
export interface AccountTradesKey {
  accountId: string;
  filter: { symbol: string | null; first: number };
}

/** The loaders of one request (or one subscription). */
export interface TradingLoaders {
  account: DataLoader<string, AccountModel | null>;
  order: DataLoader<string, OrderModel | null>;
  eventsOfOrder: DataLoader<string, OrderEventModel[]>;
  tradesOfOrder: DataLoader<string, TradeModel[]>;
  ordersOfAccount: DataLoader<AccountOrdersKey, OrderModel[]>;
  tradesOfAccount: DataLoader<AccountTradesKey, TradeModel[]>;
  ledgerOfAccount: DataLoader<{ accountId: string; filter: { first: number } }, LedgerEntryModel[]>;
  position: DataLoader<{ symbol: string; accountId: string | null }, PositionModel | null>;
}

/**
 * Creates the loaders of one request.
 * @param caller the request's caller (resolved when a batch runs; throws UNAUTHENTICATED without one)
 */
export function createTradingLoaders(accounts: AccountService, caller: () => Caller): TradingLoaders {
  const opts = { cache: false } as const;
  return {
    account: new DataLoader((ids) => accounts.getMany(caller(), ids), opts),
    order: new DataLoader((ids) => accounts.ordersByIds(caller(), ids), opts),
    eventsOfOrder: new DataLoader((ids) => accounts.eventsOfOrders(caller(), ids), opts),
    tradesOfOrder: new DataLoader((ids) => accounts.executionsOfOrders(caller(), ids), opts),
    ordersOfAccount: new DataLoader((keys) => accounts.orderPages(caller(), keys), opts),
    tradesOfAccount: new DataLoader((keys) => accounts.tradePages(caller(), keys), opts),
    ledgerOfAccount: new DataLoader((keys) => accounts.ledgerPages(caller(), keys), opts),
    position: new DataLoader((keys) => accounts.positions(caller(), keys), opts),
  };
}
