/**
 * When and at what price an open order trades against a tick: pure rules shared by the placement path
 * (an order marketable on arrival) and the execution engine (resting orders on each tick).
 *
 * - Stops trigger on the last price: a buy stop when last >= stop, a sell stop when last <= stop. A
 *   triggered STOP trades as a market order, a triggered STOP_LIMIT as a limit order.
 * - Market orders fill at the ask (buys) or bid (sells) moved by the slippage model.
 * - Limit orders fill when the touch crosses the limit (ask <= limit for buys, bid >= limit for sells),
 *   at the touch: never beyond the limit, no slippage.
 * - Liquidity: with TRADING_LIQUIDITY_FACTOR > 0 an order takes at most factor * tick size per tick
 *   (rounded down to the lot size); 0 means unlimited (every fill is complete).
 */
import { Dec, floorTo, minDec } from '../decimal.js';
import type { MarketTick } from '../market/market-tick.js';
import type { OrderType, PricingConfig, Side } from '../order.types.js';
import { marketFillPrice } from '../risk.rules.js';

export interface MatchableOrder {
  side: Side;
  type: OrderType;
  quantity: Dec;
  filledQuantity: Dec;
  limitPrice: Dec | null;
  stopPrice: Dec | null;
  triggered: boolean;
}

export interface InstrumentSteps {
  tickSize: Dec;
  lotSize: Dec;
}

/** True when the tick reaches the stop price of an untriggered stop order. */
export function stopReached(order: MatchableOrder, tick: MarketTick): boolean {
  if (order.stopPrice === null) return false;
  const last = new Dec(tick.price);
  return order.side === 'BUY' ? last.gte(order.stopPrice) : last.lte(order.stopPrice);
}

/** Whether the order behaves as a market order now (MARKET, or a triggered STOP). */
export function actsAsMarket(order: MatchableOrder): boolean {
  return order.type === 'MARKET' || (order.type === 'STOP' && order.triggered);
}

/** Whether the order is waiting for its stop price. */
export function awaitingTrigger(order: MatchableOrder): boolean {
  return (order.type === 'STOP' || order.type === 'STOP_LIMIT') && !order.triggered;
}

/** Quantity one order may take from this tick; null is unlimited. */
export function liquidityOf(tick: MarketTick, steps: InstrumentSteps, pricing: PricingConfig): Dec | null {
  if (pricing.liquidityFactor.isZero()) return null;
  return floorTo(new Dec(tick.size).mul(pricing.liquidityFactor), steps.lotSize);
}

/**
 * The fill this tick gives an order that is not waiting for a trigger.
 * @returns quantity and price, or null when the order does not trade on this tick
 */
export function fillFor(
  order: MatchableOrder,
  tick: MarketTick,
  steps: InstrumentSteps,
  pricing: PricingConfig,
): { quantity: Dec; price: Dec } | null {
  if (awaitingTrigger(order)) return null;
  const remaining = order.quantity.sub(order.filledQuantity);
  if (remaining.lte(0)) return null;
  const available = liquidityOf(tick, steps, pricing);
  const quantity = available === null ? remaining : minDec(remaining, available);
  if (quantity.lte(0)) return null;
  if (actsAsMarket(order)) {
    return { quantity, price: marketFillPrice(order.side, quantity, tick, steps.tickSize, pricing) };
  }
  const limit = order.limitPrice;
  if (limit === null) return null;
  if (order.side === 'BUY') {
    const ask = new Dec(tick.ask);
    return ask.lte(limit) ? { quantity, price: ask } : null;
  }
  const bid = new Dec(tick.bid);
  return bid.gte(limit) ? { quantity, price: bid } : null;
}
