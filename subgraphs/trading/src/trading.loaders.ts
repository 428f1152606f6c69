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
 * Creates the loaders of one request. Each is made on first use: most requests (placeOrder above all)
 * resolve no list field and need none.
 * @param caller the request's caller (resolved when a batch runs; throws UNAUTHENTICATED without one)
 */
export function createTradingLoaders(accounts: AccountService, caller: () => Caller): TradingLoaders {
  return new LazyLoaders(accounts, caller);
}

const OPTS = { cache: false } as const;

class LazyLoaders implements TradingLoaders {
  #account?: TradingLoaders['account'];
  #order?: TradingLoaders['order'];
  #eventsOfOrder?: TradingLoaders['eventsOfOrder'];
  #tradesOfOrder?: TradingLoaders['tradesOfOrder'];
  #ordersOfAccount?: TradingLoaders['ordersOfAccount'];
  #tradesOfAccount?: TradingLoaders['tradesOfAccount'];
  #ledgerOfAccount?: TradingLoaders['ledgerOfAccount'];
  #position?: TradingLoaders['position'];

  constructor(
    private readonly accounts: AccountService,
    private readonly caller: () => Caller,
  ) {}

  get account(): TradingLoaders['account'] {
    return (this.#account ??= new DataLoader((ids) => this.accounts.getMany(this.caller(), ids), OPTS));
  }

  get order(): TradingLoaders['order'] {
    return (this.#order ??= new DataLoader((ids) => this.accounts.ordersByIds(this.caller(), ids), OPTS));
  }

  get eventsOfOrder(): TradingLoaders['eventsOfOrder'] {
    return (this.#eventsOfOrder ??= new DataLoader(
      (ids) => this.accounts.eventsOfOrders(this.caller(), ids),
      OPTS,
    ));
  }

  get tradesOfOrder(): TradingLoaders['tradesOfOrder'] {
    return (this.#tradesOfOrder ??= new DataLoader(
      (ids) => this.accounts.executionsOfOrders(this.caller(), ids),
      OPTS,
    ));
  }

  get ordersOfAccount(): TradingLoaders['ordersOfAccount'] {
    return (this.#ordersOfAccount ??= new DataLoader(
      (keys) => this.accounts.orderPages(this.caller(), keys),
      OPTS,
    ));
  }

  get tradesOfAccount(): TradingLoaders['tradesOfAccount'] {
    return (this.#tradesOfAccount ??= new DataLoader(
      (keys) => this.accounts.tradePages(this.caller(), keys),
      OPTS,
    ));
  }

  get ledgerOfAccount(): TradingLoaders['ledgerOfAccount'] {
    return (this.#ledgerOfAccount ??= new DataLoader(
      (keys) => this.accounts.ledgerPages(this.caller(), keys),
      OPTS,
    ));
  }

  get position(): TradingLoaders['position'] {
    return (this.#position ??= new DataLoader((keys) => this.accounts.positions(this.caller(), keys), OPTS));
  }
}
