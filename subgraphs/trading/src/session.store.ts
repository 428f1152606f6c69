/**
 * The SQL of the order hot path (placement, cancel, replace, fills), on the withTenant transaction's
 * client. It is written by hand rather than with drizzle's query builder, for round trips: an order is
 * lock + one read + one write (plus the transaction's prologue and COMMIT), where the builder needed
 * sixteen statements, and each round trip costs more CPU than the rest of the order's work.
 *
 * - The account row is locked in a statement of its own, and everything else is read by the next
 *   statement, whose snapshot is taken after the lock was granted (READ COMMITTED): nothing read can
 *   predate the previous holder's commit.
 * - Everything a session changed is written by one statement of data-modifying CTEs fed by `unnest`
 *   arrays (fixed text whatever the row counts). Foreign keys are checked at the end of the statement,
 *   so events and executions may reference orders inserted by the same statement.
 * - Values are always parameters; numerics travel as text (no float anywhere).
 */
import type { PoolClient } from '../../../lib/db.js';
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

const ACCOUNT_COLUMNS = `id, name, currency, cash, created_at, reserved, trading_state, trading_state_reason,
  rate_window_start, rate_window_count, day_start_date::text AS day_start_date, day_start_equity, updated_at`;

/** What a session needs besides the account row, read in one statement. */
export interface SessionData {
  positions: PositionRow[];
  limits: RiskLimitsRow | undefined;
  /** Id of the account's order with the given clientOrderId, if any. */
  existingOrderId: string | null;
  /** Remaining quantity of open orders in the given symbol (minus one excluded order), by side. */
  openBuy: string;
  openSell: string;
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
}

const READ = `
SELECT
  (SELECT coalesce(json_agg(json_build_object(
      'symbol', symbol, 'quantity', quantity::text, 'averagePrice', average_price::text,
      'realizedPnl', realized_pnl::text, 'updatedAt', updated_at)), '[]'::json)
     FROM positions WHERE account_id = $1) AS positions,
  (SELECT json_build_object(
      'maxOrderQuantity', max_order_quantity::text, 'minOrderQuantity', min_order_quantity::text,
      'maxOrderNotional', max_order_notional::text, 'maxPositionQuantity', max_position_quantity::text,
      'maxGrossExposure', max_gross_exposure::text, 'priceCollarPct', price_collar_pct::text,
      'allowShortSelling', allow_short_selling, 'maxOrdersPerMinute', max_orders_per_minute,
      'dailyLossLimit', daily_loss_limit::text, 'updatedAt', updated_at, 'updatedBy', updated_by)
     FROM risk_limits WHERE account_id = $1) AS limits,
  (SELECT id FROM orders WHERE account_id = $1 AND client_order_id = $2) AS existing_id,
  (SELECT coalesce(sum(quantity - filled_quantity) FILTER (WHERE side = 'BUY'), 0)::text
     FROM orders WHERE account_id = $1 AND symbol = $3 AND status IN ('NEW', 'PARTIALLY_FILLED')
      AND id IS DISTINCT FROM $4::uuid) AS open_buy,
  (SELECT coalesce(sum(quantity - filled_quantity) FILTER (WHERE side = 'SELL'), 0)::text
     FROM orders WHERE account_id = $1 AND symbol = $3 AND status IN ('NEW', 'PARTIALLY_FILLED')
      AND id IS DISTINCT FROM $4::uuid) AS open_sell`;

const FLUSH = `
WITH new_orders AS (
  INSERT INTO orders (${ORDER_COLUMNS})
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::numeric[], $9::numeric[], $10::numeric[], $11::text[], $12::numeric[], $13::numeric[], $14::bool[],
    $15::numeric[], $16::numeric[], $17::numeric[], $18::text[], $19::text[], $20::uuid[], $21::uuid[],
    $22::timestamptz[], $23::int8[], $24::int8[], $25::timestamptz[], $26::timestamptz[])
  ON CONFLICT (account_id, client_order_id) DO NOTHING
  RETURNING 1
), changed_orders AS (
  UPDATE orders o SET status = v.status, filled_quantity = v.filled_quantity,
    average_fill_price = v.average_fill_price, triggered = v.triggered, reserved_amount = v.reserved_amount,
    replaced_by_order_id = v.replaced_by_order_id, last_tick_ts = v.last_tick_ts,
    last_tick_seq = v.last_tick_seq, updated_at = v.updated_at
  FROM unnest($27::uuid[], $28::text[], $29::numeric[], $30::numeric[], $31::bool[], $32::numeric[],
    $33::uuid[], $34::int8[], $35::int8[], $36::timestamptz[])
    AS v(id, status, filled_quantity, average_fill_price, triggered, reserved_amount, replaced_by_order_id,
         last_tick_ts, last_tick_seq, updated_at)
  WHERE o.id = v.id
  RETURNING 1
), execs AS (
  INSERT INTO executions (id, order_id, account_id, symbol, side, quantity, price, notional, fee, executed_at)
  SELECT v.id, v.order_id, $37::uuid, v.symbol, v.side, v.quantity, v.price, v.notional, v.fee, v.executed_at
  FROM unnest($38::uuid[], $39::uuid[], $40::text[], $41::text[], $42::numeric[], $43::numeric[],
    $44::numeric[], $45::numeric[], $46::timestamptz[])
    AS v(id, order_id, symbol, side, quantity, price, notional, fee, executed_at)
  RETURNING 1
), events AS (
  INSERT INTO order_events (order_id, account_id, type, status, reason, message, quantity, price, detail, created_at)
  SELECT v.order_id, $37::uuid, v.type, v.status, v.reason, v.message, v.quantity, v.price, v.detail, v.created_at
  FROM unnest($47::uuid[], $48::text[], $49::text[], $50::text[], $51::text[], $52::numeric[],
    $53::numeric[], $54::jsonb[], $55::timestamptz[])
    WITH ORDINALITY AS v(order_id, type, status, reason, message, quantity, price, detail, created_at, n)
  ORDER BY v.n
  RETURNING 1
), ledger AS (
  INSERT INTO cash_ledger (account_id, kind, amount, reference, created_at)
  SELECT $37::uuid, v.kind, v.amount, v.reference, v.created_at
  FROM unnest($56::text[], $57::numeric[], $58::text[], $59::timestamptz[]) WITH ORDINALITY
    AS v(kind, amount, reference, created_at, n)
  ORDER BY v.n
  RETURNING 1
), pos AS (
  INSERT INTO positions (account_id, symbol, quantity, average_price, realized_pnl, updated_at)
  SELECT $37::uuid, v.symbol, v.quantity, v.average_price, v.realized_pnl, v.updated_at
  FROM unnest($60::text[], $61::numeric[], $62::numeric[], $63::numeric[], $64::timestamptz[])
    AS v(symbol, quantity, average_price, realized_pnl, updated_at)
  ON CONFLICT (account_id, symbol) DO UPDATE SET quantity = excluded.quantity,
    average_price = excluded.average_price, realized_pnl = excluded.realized_pnl, updated_at = excluded.updated_at
  RETURNING 1
), acct AS (
  UPDATE accounts SET cash = $65, reserved = $66, trading_state = $67, trading_state_reason = $68,
    rate_window_start = $69, rate_window_count = $70, day_start_date = $71, day_start_equity = $72,
    updated_at = $73
  WHERE id = $37::uuid AND $74::bool
  RETURNING 1
)
SELECT (SELECT count(*) FROM new_orders)::int AS inserted, (SELECT count(*) FROM changed_orders)::int AS changed`;

export class SessionStore {
  constructor(private readonly client: PoolClient) {}

  /** The account row, locked until the transaction ends. */
  async lockAccount(id: string): Promise<AccountRow | undefined> {
    const r = await this.client.query<Raw>(
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 FOR UPDATE`,
      [id],
    );
    return r.rows[0] ? mapAccount(r.rows[0]) : undefined;
  }

  async getAccount(id: string): Promise<AccountRow | undefined> {
    const r = await this.client.query<Raw>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id]);
    return r.rows[0] ? mapAccount(r.rows[0]) : undefined;
  }

  /** Positions, limits, an existing clientOrderId and open quantities of a symbol, in one statement. */
  async load(
    accountId: string,
    opts: {
      clientOrderId?: string | undefined;
      symbol?: string | undefined;
      excludeOrderId?: string | undefined;
    },
  ): Promise<SessionData> {
    const r = await this.client.query<Raw>(READ, [
      accountId,
      opts.clientOrderId ?? null,
      opts.symbol ?? null,
      opts.excludeOrderId ?? null,
    ]);
    const row = r.rows[0] ?? {};
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
      positions,
      limits,
      existingOrderId: textOrNull(row['existing_id']),
      openBuy: text(row['open_buy'] ?? '0'),
      openSell: text(row['open_sell'] ?? '0'),
    };
  }

  /** Orders of an account by id, locked, oldest first (time priority). */
  async lockOrders(accountId: string, ids: readonly string[]): Promise<OrderRow[]> {
    if (ids.length === 0) return [];
    const r = await this.client.query<Raw>(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE account_id = $1 AND id = ANY($2::uuid[])
        ORDER BY created_at, id FOR UPDATE`,
      [accountId, ids],
    );
    return r.rows.map(mapOrder);
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
   * Writes a session's changes in one statement.
   * @returns how many new orders were inserted (fewer than given: a clientOrderId already existed)
   */
  async flush(c: SessionChanges): Promise<{ inserted: number }> {
    const n = c.newOrders;
    const u = c.changedOrders;
    const x = c.executions;
    const e = c.events;
    const l = c.ledger;
    const p = c.positions;
    const a = c.account;
    const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
    const values: unknown[] = [
      n.map((o) => o.id),
      n.map((o) => o.accountId),
      n.map((o) => o.clientOrderId),
      n.map((o) => o.symbol),
      n.map((o) => o.side),
      n.map((o) => o.type),
      n.map((o) => o.timeInForce),
      n.map((o) => o.quantity),
      n.map((o) => o.limitPrice),
      n.map((o) => o.stopPrice),
      n.map((o) => o.status),
      n.map((o) => o.filledQuantity),
      n.map((o) => o.averageFillPrice),
      n.map((o) => o.triggered),
      n.map((o) => o.reservePrice),
      n.map((o) => o.reserveUnits),
      n.map((o) => o.reservedAmount),
      n.map((o) => o.rejectReason),
      n.map((o) => o.rejectMessage),
      n.map((o) => o.replacesOrderId),
      n.map((o) => o.replacedByOrderId),
      n.map((o) => iso(o.expiresAt)),
      n.map((o) => o.lastTickTs),
      n.map((o) => o.lastTickSeq),
      n.map((o) => iso(o.createdAt)),
      n.map((o) => iso(o.updatedAt)),
      u.map((o) => o.id),
      u.map((o) => o.status),
      u.map((o) => o.filledQuantity),
      u.map((o) => o.averageFillPrice),
      u.map((o) => o.triggered),
      u.map((o) => o.reservedAmount),
      u.map((o) => o.replacedByOrderId),
      u.map((o) => o.lastTickTs),
      u.map((o) => o.lastTickSeq),
      u.map((o) => iso(o.updatedAt)),
      c.accountId,
      x.map((r) => r.id),
      x.map((r) => r.orderId),
      x.map((r) => r.symbol),
      x.map((r) => r.side),
      x.map((r) => r.quantity),
      x.map((r) => r.price),
      x.map((r) => r.notional),
      x.map((r) => r.fee),
      x.map((r) => iso(r.executedAt)),
      e.map((r) => r.orderId),
      e.map((r) => r.type),
      e.map((r) => r.status),
      e.map((r) => r.reason),
      e.map((r) => r.message),
      e.map((r) => r.quantity),
      e.map((r) => r.price),
      e.map((r) => (r.detail === null || r.detail === undefined ? null : JSON.stringify(r.detail))),
      e.map((r) => iso(r.createdAt)),
      l.map((r) => r.kind),
      l.map((r) => r.amount),
      l.map((r) => r.reference),
      l.map((r) => iso(r.createdAt)),
      p.map((r) => r.symbol),
      p.map((r) => r.quantity),
      p.map((r) => r.averagePrice),
      p.map((r) => r.realizedPnl),
      p.map((r) => iso(r.updatedAt)),
      a?.cash ?? '0',
      a?.reserved ?? '0',
      a?.tradingState ?? 'ACTIVE',
      a?.tradingStateReason ?? null,
      iso(a?.rateWindowStart ?? null),
      a?.rateWindowCount ?? 0,
      a?.dayStartDate ?? null,
      a?.dayStartEquity ?? null,
      iso(a?.updatedAt ?? null),
      a !== null,
    ];
    const r = await this.client.query<{ inserted: number; changed: number }>(FLUSH, values);
    return { inserted: r.rows[0]?.inserted ?? 0 };
  }
}
