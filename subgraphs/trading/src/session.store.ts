/**
 * The SQL of the order hot path (placement, cancel, replace, fills), on the withTenant transaction's
 * client. It is written by hand rather than with drizzle's query builder, for round trips: a session is
 * lock + one read + one write (plus the transaction's prologue and COMMIT; placements send the read with
 * the prologue and the write with the COMMIT), where the builder needed sixteen statements, and each
 * round trip costs more CPU than the rest of an order's work (`*.int.test.ts` and bench/trading-*.ts
 * exercise all of it).
 *
 * - The account row is locked, and everything else read, by one call of `trading_open_session` (a
 *   tenant-schema function, migration 0005) whose reads take their snapshot after the lock was granted:
 *   nothing read can predate the previous holder's commit.
 * - Everything a session changed is written by one call of `trading_flush_session` fed by one JSON
 *   document (fixed text whatever the row counts); as functions, both keep their plans per connection.
 * - The two calls are built as text with literals quoted by lib/db sqlLiteral (simple protocol), so
 *   placements can send them with the prologue and the COMMIT; other values are parameters. Numerics
 *   travel as text (no float anywhere).
 */
import { sqlLiteral, type PoolClient } from '../../../lib/db.js';
import type {
  AccountRow,
  ExecutionRow,
  OrderEventType,
  OrderRow,
  OrderStatus,
  PositionRow,
  RiskLimitsRow,
} from './db/tenant-schema.js';

const ORDER_COLUMNS = `id, account_id, client_order_id, symbol, side, type, time_in_force, quantity, limit_price,
  stop_price, status, filled_quantity, average_fill_price, triggered, reserve_price, reserve_units, reserved_amount,
  reject_reason, reject_message, replaces_order_id, replaced_by_order_id, expires_at, last_tick_ts, last_tick_seq,
  created_at, updated_at`;

type Raw = Record<string, unknown>;

const text = (v: unknown): string =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? v.toString() : '';
const textOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : text(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(v as string));

/** An `orders` row as returned by node-pg (snake_case) as a drizzle-shaped row. */
export function mapOrder(r: Raw): OrderRow {
  return {
    id: text(r['id']),
    accountId: text(r['account_id']),
    clientOrderId: text(r['client_order_id']),
    symbol: text(r['symbol']),
    side: r['side'] as OrderRow['side'],
    type: r['type'] as OrderRow['type'],
    timeInForce: r['time_in_force'] as OrderRow['timeInForce'],
    quantity: text(r['quantity']),
    limitPrice: textOrNull(r['limit_price']),
    stopPrice: textOrNull(r['stop_price']),
    status: r['status'] as OrderStatus,
    filledQuantity: text(r['filled_quantity']),
    averageFillPrice: textOrNull(r['average_fill_price']),
    triggered: r['triggered'] === true,
    reservePrice: text(r['reserve_price']),
    reserveUnits: text(r['reserve_units']),
    reservedAmount: text(r['reserved_amount']),
    rejectReason: textOrNull(r['reject_reason']),
    rejectMessage: textOrNull(r['reject_message']),
    replacesOrderId: textOrNull(r['replaces_order_id']),
    replacedByOrderId: textOrNull(r['replaced_by_order_id']),
    expiresAt: r['expires_at'] === null ? null : date(r['expires_at']),
    lastTickTs: numOrNull(r['last_tick_ts']),
    lastTickSeq: numOrNull(r['last_tick_seq']),
    createdAt: date(r['created_at']),
    updatedAt: date(r['updated_at']),
  };
}

function mapAccount(r: Raw): AccountRow {
  return {
    id: text(r['id']),
    name: text(r['name']),
    currency: text(r['currency']),
    cash: text(r['cash']),
    createdAt: date(r['created_at']),
    reserved: text(r['reserved']),
    tradingState: r['trading_state'] as AccountRow['tradingState'],
    tradingStateReason: textOrNull(r['trading_state_reason']),
    rateWindowStart: r['rate_window_start'] === null ? null : date(r['rate_window_start']),
    rateWindowCount: Number(r['rate_window_count']),
    dayStartDate: textOrNull(r['day_start_date']),
    dayStartEquity: textOrNull(r['day_start_equity']),
    updatedAt: date(r['updated_at']),
  };
}

/** What a session needs besides the account row, read in one statement. */
export interface SessionData {
  positions: PositionRow[];
  limits: RiskLimitsRow | undefined;
  /** Ids of the account's orders with the given clientOrderIds, by clientOrderId. */
  existing: ReadonlyMap<string, string>;
  /** Remaining quantity of the account's open orders per symbol, by side (`open_quantities`). */
  open: ReadonlyMap<string, OpenQuantities>;
}

/** Remaining quantity of open orders of one symbol, by side (numerics as text). */
export interface OpenQuantities {
  buy: string;
  sell: string;
}

/** Everything a session changed, ready to be written. */
export interface SessionChanges {
  accountId: string;
  account: AccountRow | null;
  newOrders: OrderRow[];
  changedOrders: OrderRow[];
  executions: ExecutionRow[];
  events: {
    orderId: string;
    type: OrderEventType;
    status: OrderStatus;
    reason: string | null;
    message: string | null;
    quantity: string | null;
    price: string | null;
    detail: unknown;
    createdAt: Date;
  }[];
  ledger: { kind: string; amount: string; reference: string | null; createdAt: Date }[];
  positions: PositionRow[];
  /** Open quantities of the symbols whose open orders changed. */
  openQuantities: ({ symbol: string } & OpenQuantities)[];
}

function orderJson(o: OrderRow): Record<string, unknown> {
  return {
    id: o.id,
    account_id: o.accountId,
    client_order_id: o.clientOrderId,
    symbol: o.symbol,
    side: o.side,
    type: o.type,
    time_in_force: o.timeInForce,
    quantity: o.quantity,
    limit_price: o.limitPrice,
    stop_price: o.stopPrice,
    status: o.status,
    filled_quantity: o.filledQuantity,
    average_fill_price: o.averageFillPrice,
    triggered: o.triggered,
    reserve_price: o.reservePrice,
    reserve_units: o.reserveUnits,
    reserved_amount: o.reservedAmount,
    reject_reason: o.rejectReason,
    reject_message: o.rejectMessage,
    replaces_order_id: o.replacesOrderId,
    replaced_by_order_id: o.replacedByOrderId,
    expires_at: o.expiresAt,
    last_tick_ts: o.lastTickTs,
    last_tick_seq: o.lastTickSeq,
    created_at: o.createdAt,
    updated_at: o.updatedAt,
  };
}

/** What {@link SessionStore.open} reads besides the account (see there). */
export interface OpenSessionOptions {
  /** Lock the account row (false: only read it, for dry runs). */
  lock: boolean;
  /** clientOrderIds whose existing orders to look up. */
  clientOrderIds?: readonly string[] | undefined;
  orderIds?: readonly string[] | undefined;
}

export class SessionStore {
  constructor(private readonly client: PoolClient) {}

  /**
   * Starts an account's session in one round trip (`trading_open_session`, migration 0005): the account
   * row locked (or only read), then positions, open quantities, limits, the existing orders of
   * clientOrderIds and the given orders (locked, oldest first), read after the lock was granted.
   * @returns undefined when the account does not exist in this tenant
   */
  async open(
    accountId: string,
    opts: OpenSessionOptions,
  ): Promise<{ account: AccountRow; data: SessionData; orders: OrderRow[] } | undefined> {
    const r = await this.client.query<{ s: Raw | null }>(openStatement(accountId, opts));
    return parseOpened(accountId, r.rows[0]);
  }

  /** Open orders of an account (of one symbol when given), locked, oldest first. */
  async lockOpenOrders(accountId: string, symbol?: string): Promise<OrderRow[]> {
    const r = await this.client.query<Raw>(
      `SELECT ${ORDER_COLUMNS} FROM orders
        WHERE account_id = $1 AND status IN ('NEW', 'PARTIALLY_FILLED') AND ($2::text IS NULL OR symbol = $2)
        ORDER BY created_at, id FOR UPDATE`,
      [accountId, symbol ?? null],
    );
    return r.rows.map(mapOrder);
  }

  /**
   * Writes a session's changes in one call (`trading_flush_session`, migration 0005).
   * @throws DuplicateOrderError when a new order's clientOrderId already exists in the account
   */
  async flush(c: SessionChanges): Promise<void> {
    try {
      await this.client.query(flushStatement(c));
    } catch (err) {
      throw asDuplicateOrder(err);
    }
  }
}

/** The unique (account, clientOrderId) index refused an insert the account lock should have prevented. */
export class DuplicateOrderError extends Error {
  constructor() {
    super('duplicate clientOrderId');
    this.name = 'DuplicateOrderError';
  }
}

/**
 * The statement that starts an account's session (see {@link SessionStore.open}) as text for the simple
 * protocol, so that placements can send it with the transaction's prologue (lib/db
 * withTenantRoundTrips). Every value is a quoted literal: ids were validated, and quoting makes any
 * text safe anyway.
 */
export function openStatement(accountId: string, opts: OpenSessionOptions): string {
  const array = (values: readonly string[] | undefined, type: string): string =>
    values ? `ARRAY[${values.map((v) => sqlLiteral(v)).join(', ')}]::${type}[]` : 'NULL';
  return (
    `SELECT trading_open_session(${sqlLiteral(accountId)}::uuid, ${opts.lock ? 'true' : 'false'}, ` +
    `${array(opts.clientOrderIds, 'text')}, ${array(opts.orderIds, 'uuid')}) AS s`
  );
}

/** The statement that writes a session's changes, as text for the simple protocol (placements send it with COMMIT). */
export function flushStatement(c: SessionChanges): string {
  return `SELECT trading_flush_session(${sqlLiteral(flushDocument(c))}::jsonb)`;
}

/** A unique violation of (account, clientOrderId) as {@link DuplicateOrderError}; other errors as they are. */
export function asDuplicateOrder(err: unknown): unknown {
  const e = err as { code?: unknown; constraint?: unknown };
  return e.code === '23505' && e.constraint === 'orders_client_order_id_unique'
    ? new DuplicateOrderError()
    : err;
}

/** A session's start as read by `trading_open_session` (undefined: no such account in this tenant). */
export function parseOpened(
  accountId: string,
  result: { s?: unknown } | undefined,
): { account: AccountRow; data: SessionData; orders: OrderRow[] } | undefined {
  const row = result?.s as Raw | null | undefined;
  if (!row) return undefined;
  const positions = ((row['positions'] as Raw[] | null) ?? []).map((p) => ({
    accountId,
    symbol: text(p['symbol']),
    quantity: text(p['quantity']),
    averagePrice: text(p['averagePrice']),
    realizedPnl: text(p['realizedPnl']),
    updatedAt: date(p['updatedAt']),
  }));
  const l = row['limits'] as Raw | null;
  const limits: RiskLimitsRow | undefined = l
    ? {
        accountId,
        maxOrderQuantity: textOrNull(l['maxOrderQuantity']),
        minOrderQuantity: textOrNull(l['minOrderQuantity']),
        maxOrderNotional: textOrNull(l['maxOrderNotional']),
        maxPositionQuantity: textOrNull(l['maxPositionQuantity']),
        maxGrossExposure: textOrNull(l['maxGrossExposure']),
        priceCollarPct: textOrNull(l['priceCollarPct']),
        allowShortSelling: l['allowShortSelling'] === true,
        maxOrdersPerMinute: numOrNull(l['maxOrdersPerMinute']),
        dailyLossLimit: textOrNull(l['dailyLossLimit']),
        updatedAt: date(l['updatedAt']),
        updatedBy: textOrNull(l['updatedBy']),
      }
    : undefined;
  return {
    account: mapAccount(row['account'] as Raw),
    data: {
      positions,
      limits,
      existing: new Map(Object.entries((row['existing'] as Raw | null) ?? {}).map(([k, v]) => [k, text(v)])),
      open: new Map(
        Object.entries((row['open'] as Record<string, Raw> | null) ?? {}).map(([symbol, q]) => [
          symbol,
          { buy: text(q['buy']), sell: text(q['sell']) },
        ]),
      ),
    },
    orders: ((row['orders'] as Raw[] | null) ?? []).map(mapOrder),
  };
}

/**
 * A session's changes as the JSON document `trading_flush_session` reads (snake_case keys, numerics as
 * strings): one value to serialize instead of dozens of arrays, and jsonb_to_recordset types every
 * field with its column's input function.
 */
function flushDocument(c: SessionChanges): string {
  return JSON.stringify({
    accountId: c.accountId,
    newOrders: c.newOrders.map(orderJson),
    changedOrders: c.changedOrders.map((o) => ({
      id: o.id,
      status: o.status,
      filled_quantity: o.filledQuantity,
      average_fill_price: o.averageFillPrice,
      triggered: o.triggered,
      reserved_amount: o.reservedAmount,
      replaced_by_order_id: o.replacedByOrderId,
      last_tick_ts: o.lastTickTs,
      last_tick_seq: o.lastTickSeq,
      updated_at: o.updatedAt,
    })),
    executions: c.executions.map((x) => ({
      id: x.id,
      order_id: x.orderId,
      symbol: x.symbol,
      side: x.side,
      quantity: x.quantity,
      price: x.price,
      notional: x.notional,
      fee: x.fee,
      executed_at: x.executedAt,
    })),
    events: c.events.map((e) => ({
      order_id: e.orderId,
      type: e.type,
      status: e.status,
      reason: e.reason,
      message: e.message,
      quantity: e.quantity,
      price: e.price,
      detail: e.detail ?? null,
      created_at: e.createdAt,
    })),
    ledger: c.ledger.map((l) => ({
      kind: l.kind,
      amount: l.amount,
      reference: l.reference,
      created_at: l.createdAt,
    })),
    positions: c.positions.map((p) => ({
      symbol: p.symbol,
      quantity: p.quantity,
      average_price: p.averagePrice,
      realized_pnl: p.realizedPnl,
      updated_at: p.updatedAt,
    })),
    openQuantities: c.openQuantities,
    account: c.account
      ? {
          cash: c.account.cash,
          reserved: c.account.reserved,
          trading_state: c.account.tradingState,
          trading_state_reason: c.account.tradingStateReason,
          rate_window_start: c.account.rateWindowStart,
          rate_window_count: c.account.rateWindowCount,
          day_start_date: c.account.dayStartDate,
          day_start_equity: c.account.dayStartEquity,
          updated_at: c.account.updatedAt,
        }
      : null,
  });
}
