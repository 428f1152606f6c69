/**
 * The rows of the order hot path as node-pg and the two session functions (migration 0005) carry them:
 * snake_case rows to drizzle-shaped rows, `trading_open_session`'s JSON to a {@link SessionSnapshot},
 * and {@link SessionChanges} to the JSON document `trading_flush_session` reads. Numerics travel as
 * text (no float anywhere). Only session.store.ts uses this module.
 */
import type { AccountRow, OrderRow, OrderStatus, RiskLimitsRow } from './db/tenant-schema.js';
import { isoTime, isoTimeOrNull } from './iso-time.js';
import type { SessionChanges, SessionSnapshot } from './session-changes.js';

/** The `orders` columns, in the order of {@link mapOrder}. */
export const ORDER_COLUMNS = `id, account_id, client_order_id, symbol, side, type, time_in_force, quantity, limit_price,
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
    expires_at: isoTimeOrNull(o.expiresAt),
    last_tick_ts: o.lastTickTs,
    last_tick_seq: o.lastTickSeq,
    created_at: isoTime(o.createdAt),
    updated_at: isoTime(o.updatedAt),
  };
}

/** A session's start as read by `trading_open_session` (undefined: no such account in this tenant). */
export function parseSnapshot(result: { s?: unknown } | undefined): SessionSnapshot | undefined {
  const row = result?.s as Raw | null | undefined;
  if (!row) return undefined;
  const account = mapAccount(row['account'] as Raw);
  const accountId = account.id;
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
    account,
    positions,
    limits,
    existing: new Map(Object.entries((row['existing'] as Raw | null) ?? {}).map(([k, v]) => [k, text(v)])),
    open: new Map(
      Object.entries((row['open'] as Record<string, Raw> | null) ?? {}).map(([symbol, q]) => [
        symbol,
        { buy: text(q['buy']), sell: text(q['sell']) },
      ]),
    ),
    orders: ((row['orders'] as Raw[] | null) ?? []).map(mapOrder),
  };
}

/**
 * A session's changes as the JSON document `trading_flush_session` reads (snake_case keys, numerics as
 * strings, timestamps as ISO text): one value to serialize instead of dozens of arrays, and
 * jsonb_to_recordset types every field with its column's input function.
 */
export function flushDocument(c: SessionChanges): string {
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
      updated_at: isoTime(o.updatedAt),
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
      executed_at: isoTime(x.executedAt),
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
      created_at: isoTime(e.createdAt),
    })),
    ledger: c.ledger.map((l) => ({
      kind: l.kind,
      amount: l.amount,
      reference: l.reference,
      created_at: isoTime(l.createdAt),
    })),
    positions: c.positions.map((p) => ({
      symbol: p.symbol,
      quantity: p.quantity,
      average_price: p.averagePrice,
      realized_pnl: p.realizedPnl,
      updated_at: isoTime(p.updatedAt),
    })),
    openQuantities: c.openQuantities,
    account: c.account
      ? {
          cash: c.account.cash,
          reserved: c.account.reserved,
          trading_state: c.account.tradingState,
          trading_state_reason: c.account.tradingStateReason,
          rate_window_start: isoTimeOrNull(c.account.rateWindowStart),
          rate_window_count: c.account.rateWindowCount,
          day_start_date: c.account.dayStartDate,
          day_start_equity: c.account.dayStartEquity,
          updated_at: isoTime(c.account.updatedAt),
        }
      : null,
  });
}
