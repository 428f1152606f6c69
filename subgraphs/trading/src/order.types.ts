/**
 * The vocabulary of orders shared by the services, the engine and the resolvers: what a caller asks
 * for and its validation ({@link validateOrder} makes an {@link OrderIntent}), the machine-readable
 * reasons stored on rejected and canceled orders, and the pricing settings taken from configuration.
 */
import type { TradingConfig } from './config.js';
import { badInput } from '../../../lib/errors.js';
import { Dec, str } from './decimal.js';
import type { OrderRow, OrderStatus, OrderType, Side, TimeInForce } from './db/tenant-schema.js';

export type { OrderStatus, OrderType, Side, TimeInForce, TradingState } from './db/tenant-schema.js';

/** A validated order request. */
export interface OrderIntent {
  accountId: string;
  clientOrderId: string;
  symbol: string;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  quantity: Dec;
  limitPrice: Dec | null;
  stopPrice: Dec | null;
}

/** Reasons a pre-trade check rejects an order with (`Order.rejectReason`, the REJECTED event). */
export const REJECT_REASONS = [
  'TRADING_HALTED',
  'REDUCE_ONLY',
  'UNKNOWN_INSTRUMENT',
  'INSTRUMENT_NOT_TRADABLE',
  'CURRENCY_MISMATCH',
  'INVALID_LOT_SIZE',
  'INVALID_TICK_SIZE',
  'QUANTITY_BELOW_MINIMUM',
  'QUANTITY_ABOVE_MAXIMUM',
  'ORDER_RATE_EXCEEDED',
  'NO_MARKET_DATA',
  'PRICE_OUTSIDE_COLLAR',
  'MAX_NOTIONAL_EXCEEDED',
  'SHORT_SELLING_NOT_ALLOWED',
  'POSITION_LIMIT_EXCEEDED',
  'EXPOSURE_LIMIT_EXCEEDED',
  'INSUFFICIENT_BUYING_POWER',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Reasons recorded on CANCELED / EXPIRED events. */
export const CANCEL_REASONS = [
  'CANCELED_BY_USER',
  'REPLACED',
  'IOC_REMAINDER',
  'FOK_NOT_FILLABLE',
  'NO_MARKET_DATA',
  'INSUFFICIENT_BUYING_POWER',
  'SHORT_SELLING_NOT_ALLOWED',
  'DAY_ORDER_EXPIRED',
] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];

/** Orders in these states may still fill. */
export const OPEN_STATUSES: readonly OrderStatus[] = ['NEW', 'PARTIALLY_FILLED'];

export function isOpen(status: OrderStatus): boolean {
  return status === 'NEW' || status === 'PARTIALLY_FILLED';
}

/** +1 for buys, -1 for sells. */
export function sideSign(side: Side): 1 | -1 {
  return side === 'BUY' ? 1 : -1;
}

/** Execution and pricing settings (from configuration). */
export interface PricingConfig {
  /** Fixed slippage of market fills, basis points. */
  slippageBps: Dec;
  /** Extra slippage per multiple of the tick's trade size taken, basis points. */
  impactBps: Dec;
  /** Per-order, per-tick liquidity as a multiple of the tick's size; 0 = unlimited. */
  liquidityFactor: Dec;
  feeBps: Dec;
  feeMin: Dec;
  shortMarginRate: Dec;
  /** 0: any age. */
  maxQuoteAgeMs: number;
  /** Minutes after midnight UTC at which DAY orders expire. */
  dayEndMinuteUtc: number;
}

/** How far above the stop price a buy stop (below, a sell stop) reserves, since it fills as a market order. */
export const STOP_RESERVE_BUFFER = new Dec('0.05');

export function pricingFrom(config: TradingConfig): PricingConfig {
  const [h, m] = config.TRADING_DAY_END_UTC.split(':').map(Number);
  return {
    slippageBps: new Dec(config.TRADING_SLIPPAGE_BPS),
    impactBps: new Dec(config.TRADING_SLIPPAGE_IMPACT_BPS),
    liquidityFactor: new Dec(config.TRADING_LIQUIDITY_FACTOR),
    feeBps: new Dec(config.TRADING_FEE_BPS),
    feeMin: new Dec(config.TRADING_FEE_MIN),
    shortMarginRate: new Dec(config.TRADING_SHORT_MARGIN_RATE),
    maxQuoteAgeMs: config.TRADING_MAX_QUOTE_AGE_MS,
    dayEndMinuteUtc: (h ?? 20) * 60 + (m ?? 0),
  };
}

/** When a DAY order placed at `now` expires: the next day end (UTC) strictly after `now`. */
export function dayOrderExpiry(now: number, dayEndMinuteUtc: number): Date {
  const d = new Date(now);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 0, dayEndMinuteUtc);
  return new Date(end > now ? end : end + 24 * 3600 * 1000);
}

/** The trading day (`YYYY-MM-DD`) `now` belongs to: a day ends at the DAY-order cutoff. */
export function tradingDay(now: number, dayEndMinuteUtc: number): string {
  const expiry = dayOrderExpiry(now, dayEndMinuteUtc);
  return new Date(expiry.getTime() - 1).toISOString().slice(0, 10);
}

/** The commission of a fill of `notional`: max(bps of the notional, the minimum), 0 when both are 0. */
export function feeFor(notional: Dec, pricing: Pick<PricingConfig, 'feeBps' | 'feeMin'>): Dec {
  if (pricing.feeBps.isZero() && pricing.feeMin.isZero()) return new Dec(0);
  const bps = notional.mul(pricing.feeBps).div(10_000);
  return (bps.gt(pricing.feeMin) ? bps : pricing.feeMin).toDecimalPlaces(4, Dec.ROUND_HALF_EVEN);
}

/** Raw input of placeOrder / previewOrder (GraphQL's PlaceOrderInput). */
export interface PlaceOrderInput {
  accountId: string;
  clientOrderId: string;
  symbol: string;
  side: Side;
  type: OrderType;
  quantity: string;
  limitPrice?: string | null | undefined;
  stopPrice?: string | null | undefined;
  timeInForce?: TimeInForce | null | undefined;
}

export interface ReplaceOrderInput {
  clientOrderId: string;
  quantity?: string | null | undefined;
  limitPrice?: string | null | undefined;
  stopPrice?: string | null | undefined;
  timeInForce?: TimeInForce | null | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CLIENT_ORDER_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const SYMBOL = /^[A-Za-z0-9._/-]{1,32}$/;
/** Largest quantity or price accepted (numeric(28, 10) holds 18 integer digits). */
const MAX_VALUE = new Dec('1e15');

/** True for a well-formed UUID (anything else cannot name a row). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** A well-formed id, or BAD_USER_INPUT naming the field. */
export function requireId(value: string, field: string): string {
  if (!isUuid(value)) throw badInput(`${field} must be a UUID`, { field });
  return value.toLowerCase();
}

function positiveDecimal(value: string, field: string): Dec {
  const d = new Dec(value);
  if (!d.isFinite() || d.lte(0)) throw badInput(`${field} must be positive`, { field });
  if (d.gt(MAX_VALUE)) throw badInput(`${field} is too large`, { field });
  if (d.decimalPlaces() > 10) throw badInput(`${field} has more than 10 decimals`, { field });
  return d;
}

/**
 * Checks the shape of an order (not the risk rules: those reject with a stored reason).
 * @throws AppError BAD_USER_INPUT for missing or contradictory fields
 */
export function validateOrder(input: PlaceOrderInput): OrderIntent {
  const accountId = requireId(input.accountId, 'accountId');
  if (!CLIENT_ORDER_ID.test(input.clientOrderId)) {
    throw badInput('clientOrderId must be 1-64 characters of A-Z a-z 0-9 . _ : -', {
      field: 'clientOrderId',
    });
  }
  if (!SYMBOL.test(input.symbol)) throw badInput('Malformed symbol', { field: 'symbol' });
  const timeInForce = input.timeInForce ?? 'DAY';
  const needsLimit = input.type === 'LIMIT' || input.type === 'STOP_LIMIT';
  const needsStop = input.type === 'STOP' || input.type === 'STOP_LIMIT';
  if (needsLimit && !input.limitPrice)
    throw badInput(`${input.type} orders need a limitPrice`, { field: 'limitPrice' });
  if (!needsLimit && input.limitPrice) {
    throw badInput(`${input.type} orders take no limitPrice`, { field: 'limitPrice' });
  }
  if (needsStop && !input.stopPrice)
    throw badInput(`${input.type} orders need a stopPrice`, { field: 'stopPrice' });
  if (!needsStop && input.stopPrice)
    throw badInput(`${input.type} orders take no stopPrice`, { field: 'stopPrice' });
  if (needsStop && (timeInForce === 'IOC' || timeInForce === 'FOK')) {
    throw badInput('Stop orders are DAY or GTC', { field: 'timeInForce' });
  }
  return {
    accountId,
    clientOrderId: input.clientOrderId,
    symbol: input.symbol,
    side: input.side,
    type: input.type,
    timeInForce,
    quantity: positiveDecimal(input.quantity, 'quantity'),
    limitPrice: input.limitPrice ? positiveDecimal(input.limitPrice, 'limitPrice') : null,
    stopPrice: input.stopPrice ? positiveDecimal(input.stopPrice, 'stopPrice') : null,
  };
}

/** True when an existing order was placed with the same parameters as `intent`. */
export function sameOrder(o: OrderRow, intent: OrderIntent): boolean {
  const eq = (a: string | null, b: Dec | null): boolean => (a === null ? b === null : b !== null && b.eq(a));
  return (
    o.symbol === intent.symbol &&
    o.side === intent.side &&
    o.type === intent.type &&
    o.timeInForce === intent.timeInForce &&
    new Dec(o.quantity).eq(intent.quantity) &&
    eq(o.limitPrice, intent.limitPrice) &&
    eq(o.stopPrice, intent.stopPrice)
  );
}

/**
 * The order that replaces `original` (open, checked by the caller): its fields with the changes of
 * `input`, validated like a new order; the quantity defaults to what remains unfilled.
 * @throws AppError BAD_USER_INPUT for a market order or a malformed change
 */
export function validateReplacement(original: OrderRow, input: ReplaceOrderInput): OrderIntent {
  if (original.type === 'MARKET') throw badInput('Market orders cannot be replaced', { field: 'id' });
  return validateOrder({
    accountId: original.accountId,
    clientOrderId: input.clientOrderId,
    symbol: original.symbol,
    side: original.side,
    type: original.type,
    quantity: input.quantity ?? str(remainingOf(original)),
    limitPrice: input.limitPrice ?? original.limitPrice,
    stopPrice: input.stopPrice ?? original.stopPrice,
    timeInForce: input.timeInForce ?? original.timeInForce,
  });
}

/** The unfilled quantity of an order. */
export function remainingOf(order: Pick<OrderRow, 'quantity' | 'filledQuantity'>): Dec {
  return new Dec(order.quantity).sub(order.filledQuantity);
}
