/**
 * What an account's session starts from and what it changed, as plain data, and the journal that
 * records the changes while the session makes them. No SQL here: session.store.ts reads a
 * {@link SessionSnapshot} and writes {@link SessionChanges}; {@link TxEffects} is what the committed
 * changes mean to subscribers, the real-time cache and the engine's index.
 */
import { randomUUID } from 'node:crypto';
import { Dec, str } from './decimal.js';
import type {
  AccountRow,
  ExecutionRow,
  OrderEventType,
  OrderRow,
  OrderStatus,
  PositionRow,
  RiskLimitsRow,
} from './db/tenant-schema.js';

/** Remaining quantity of open orders of one symbol, by side (numerics as text). */
export interface OpenQuantities {
  buy: string;
  sell: string;
}

/** An account as its session starts: read after the account row was locked (or only read). */
export interface SessionSnapshot {
  account: AccountRow;
  positions: PositionRow[];
  limits: RiskLimitsRow | undefined;
  /** Ids of the account's orders with the clientOrderIds asked for, by clientOrderId. */
  existing: ReadonlyMap<string, string>;
  /** Remaining quantity of the account's open orders per symbol, by side. */
  open: ReadonlyMap<string, OpenQuantities>;
  /** The orders asked for (locked), oldest first. */
  orders: OrderRow[];
}

/** An appended order event. */
export interface OrderEventChange {
  orderId: string;
  type: OrderEventType;
  status: OrderStatus;
  reason: string | null;
  message: string | null;
  quantity: string | null;
  price: string | null;
  detail: unknown;
  createdAt: Date;
}

/** An appended cash-ledger row. */
export interface LedgerChange {
  kind: string;
  amount: string;
  reference: string | null;
  createdAt: Date;
}

/** Everything a session changed, ready to be written. */
export interface SessionChanges {
  accountId: string;
  account: AccountRow | null;
  newOrders: OrderRow[];
  changedOrders: OrderRow[];
  executions: ExecutionRow[];
  events: OrderEventChange[];
  ledger: LedgerChange[];
  positions: PositionRow[];
  /** Open quantities of the symbols whose open orders changed. */
  openQuantities: ({ symbol: string } & OpenQuantities)[];
}

/** What a committed transaction changed, for subscriptions, the Redis cache and the engine's index. */
export interface TxEffects {
  accountId: string;
  /** Final state of every order created or changed, in the order they were first touched. */
  orders: OrderRow[];
  /** Executions with the state of their order after the transaction. */
  trades: { execution: ExecutionRow; order: OrderRow }[];
  /** Positions the transaction changed. */
  positions: PositionRow[];
  /**
   * Every non-flat position of the account after the transaction (the session reads them all), so the
   * real-time cache can be rewritten whole once its key has expired.
   */
  heldPositions: PositionRow[];
  account: AccountRow;
}

interface TrackedOrder {
  row: OrderRow;
  isNew: boolean;
  dirty: boolean;
}

/** Remaining quantity of open orders of one symbol, by side (and as read, to write only changes). */
interface TrackedOpen {
  buy: Dec;
  sell: Dec;
  readBuy: Dec;
  readSell: Dec;
}

/** The order columns of an event besides its order, type and status. */
export type EventDetail = Partial<
  Pick<OrderEventChange, 'reason' | 'message' | 'quantity' | 'price' | 'detail'>
>;

/** The orders a session tracks, the open quantities it keeps, and the rows it appends. */
export class SessionJournal {
  readonly events: OrderEventChange[] = [];
  readonly executions: ExecutionRow[] = [];
  readonly ledger: LedgerChange[] = [];
  private readonly orders = new Map<string, TrackedOrder>();
  private readonly open = new Map<string, TrackedOpen>();

  constructor(
    open: ReadonlyMap<string, OpenQuantities>,
    private readonly now: number,
  ) {
    for (const [symbol, q] of open) {
      const [buy, sell] = [new Dec(q.buy), new Dec(q.sell)];
      this.open.set(symbol, { buy, sell, readBuy: buy, readSell: sell });
    }
  }

  /** True when an order changed or a row was appended. */
  get changed(): boolean {
    if (this.events.length > 0 || this.executions.length > 0 || this.ledger.length > 0) return true;
    for (const o of this.orders.values()) if (o.dirty) return true;
    return false;
  }

  /** Tracks an existing order (a copy, which the session changes in place). */
  adopt(row: OrderRow): OrderRow {
    const held = this.orders.get(row.id);
    if (held) return held.row;
    const tracked = { row: { ...row }, isNew: false, dirty: false };
    this.orders.set(row.id, tracked);
    return tracked.row;
  }

  /** Tracks an order the session created. */
  create(row: OrderRow): void {
    this.orders.set(row.id, { row, isNew: true, dirty: true });
  }

  /** Marks an order changed now. */
  touch(order: OrderRow): void {
    const t = this.orders.get(order.id);
    if (t) t.dirty = true;
    order.updatedAt = new Date(this.now);
  }

  /** Appends an event of `order` in its current status. */
  event(order: OrderRow, type: OrderEventType, extra: EventDetail = {}): void {
    this.events.push({
      orderId: order.id,
      type,
      status: order.status,
      reason: extra.reason ?? null,
      message: extra.message ?? null,
      quantity: extra.quantity ?? null,
      price: extra.price ?? null,
      detail: extra.detail ?? null,
      createdAt: new Date(this.now),
    });
  }

  /**
   * Appends the execution of a fill and its cash-ledger rows (the trade, and the fee unless zero).
   * @returns the execution's id
   */
  trade(order: OrderRow, quantity: Dec, price: Dec, notional: Dec, fee: Dec): string {
    const id = randomUUID();
    const at = new Date(this.now);
    const { accountId, symbol, side } = order;
    this.executions.push({
      id,
      orderId: order.id,
      accountId,
      symbol,
      side,
      quantity: str(quantity),
      price: str(price),
      notional: str(notional),
      fee: str(fee),
      executedAt: at,
    });
    const amount = str(side === 'BUY' ? notional.neg() : notional);
    this.ledger.push({ kind: 'trade', amount, reference: id, createdAt: at });
    if (!fee.isZero())
      this.ledger.push({ kind: 'fee', amount: str(fee.neg()), reference: id, createdAt: at });
    return id;
  }

  /** Remaining quantity of the account's open orders in `symbol`, by side. */
  openQuantities(symbol: string): { buy: Dec; sell: Dec } {
    const q = this.open.get(symbol);
    return q ? { buy: q.buy, sell: q.sell } : { buy: new Dec(0), sell: new Dec(0) };
  }

  /** Adds `delta` to the open quantity of the order's symbol and side. */
  moveOpen(order: OrderRow, delta: Dec): void {
    const zero = new Dec(0);
    const q = this.open.get(order.symbol) ?? { buy: zero, sell: zero, readBuy: zero, readSell: zero };
    if (order.side === 'BUY') q.buy = q.buy.add(delta);
    else q.sell = q.sell.add(delta);
    this.open.set(order.symbol, q);
  }

  /** The order side of the changes and of the effects (see AccountSession.collect). */
  collect(): Pick<SessionChanges, 'newOrders' | 'changedOrders' | 'openQuantities'> &
    Pick<TxEffects, 'orders' | 'trades'> {
    const tracked = [...this.orders.values()];
    const orders = tracked.filter((o) => o.dirty).map((o) => ({ ...o.row }));
    const byId = new Map(orders.map((o) => [o.id, o]));
    return {
      newOrders: tracked.filter((o) => o.isNew).map((o) => o.row),
      changedOrders: tracked.filter((o) => !o.isNew && o.dirty).map((o) => o.row),
      // Only what changed: a market order that filled at once left its symbol's quantities as they were.
      openQuantities: [...this.open]
        .filter(([, q]) => !q.buy.eq(q.readBuy) || !q.sell.eq(q.readSell))
        .map(([symbol, q]) => ({ symbol, buy: str(q.buy), sell: str(q.sell) })),
      orders,
      trades: this.executions.map((execution) => ({
        execution,
        order: byId.get(execution.orderId) ?? (this.orders.get(execution.orderId)?.row as OrderRow),
      })),
    };
  }
}
