/**
 * When and at what price an open order trades against a tick: pure rules shared by the placement path
 * (marketable on arrival), the engine (resting orders on each tick) and the pre-trade checks (the
 * price estimate of a market order). Stops trigger on the last price (buy: last >= stop; sell: last <=
 * stop), then trade as MARKET or LIMIT. Market orders fill at the ask/bid moved by the slippage model;
 * limit orders at the touch once it crosses the limit, never beyond it, without slippage. With
 * TRADING_LIQUIDITY_FACTOR > 0 an order takes at most factor * tick size per tick (lot-rounded).
 */
import { Dec, floorTo, minDec } from '../decimal.js';
import type { MarketTick } from '../market/market-tick.js';
import type { OrderType, PricingConfig, Side } from '../order.types.js';

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

/** A quote usable for pricing now: present and not older than the configured age. */
export function freshQuote(quote: MarketTick | null, now: number, maxAgeMs: number): MarketTick | null {
  if (!quote) return null;
  if (maxAgeMs > 0 && now - quote.ts > maxAgeMs) return null;
  return quote;
}

/** Slippage in basis points of a market fill of `quantity` against a tick. */
export function slippageBps(quantity: Dec, tick: Pick<MarketTick, 'size'>, pricing: PricingConfig): Dec {
  const size = new Dec(tick.size);
  const impact =
    pricing.impactBps.isZero() || size.isZero() ? new Dec(0) : pricing.impactBps.mul(quantity.div(size));
  return pricing.slippageBps.add(impact);
}

/**
 * Price of a market fill: the ask (buys) or bid (sells) moved against the taker by the slippage,
 * rounded to the tick size against the taker.
 */
export function marketFillPrice(
  side: Side,
  quantity: Dec,
  tick: MarketTick,
  tickSize: Dec,
  pricing: PricingConfig,
): Dec {
  const bps = slippageBps(quantity, tick, pricing).div(10_000);
  if (side === 'BUY') {
    const p = new Dec(tick.ask).mul(new Dec(1).add(bps));
    return tickSize.isZero() ? p : p.div(tickSize).ceil().mul(tickSize);
  }
  const p = new Dec(tick.bid).mul(new Dec(1).sub(bps));
  const rounded = tickSize.isZero() ? p : p.div(tickSize).floor().mul(tickSize);
  return rounded.gt(0) ? rounded : tickSize.isZero() ? p : tickSize;
}
