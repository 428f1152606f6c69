/**
 * Applies a tick to one open order inside an {@link AccountSession}: expiry of DAY orders, stop
 * triggers, fills (market, limit, liquidity-capped), and the time-in-force rules — IOC cancels what
 * did not fill at once, FOK fills everything at once or cancels without filling.
 */
import type { AccountSession } from '../account-session.js';
import { Dec } from '../decimal.js';
import type { OrderRow } from '../db/tenant-schema.js';
import type { MarketTick } from '../market/market-tick.js';
import { isOpen, type PricingConfig } from '../order.types.js';
import {
  awaitingTrigger,
  fillFor,
  stopReached,
  type InstrumentSteps,
  type MatchableOrder,
} from './matching.js';

function matchable(order: OrderRow): MatchableOrder {
  return {
    side: order.side,
    type: order.type,
    quantity: new Dec(order.quantity),
    filledQuantity: new Dec(order.filledQuantity),
    limitPrice: order.limitPrice === null ? null : new Dec(order.limitPrice),
    stopPrice: order.stopPrice === null ? null : new Dec(order.stopPrice),
    triggered: order.triggered,
  };
}

/** True when a DAY order's expiry has passed at `now`. */
export function isExpired(order: OrderRow, now: number): boolean {
  return order.expiresAt !== null && order.expiresAt.getTime() <= now;
}

/**
 * Runs `order` against `tick` (null: no usable quote). Changes happen in the session; nothing is
 * written until it flushes.
 */
export function applyTick(
  session: AccountSession,
  order: OrderRow,
  tick: MarketTick | null,
  steps: InstrumentSteps,
  pricing: PricingConfig,
  now: number,
): void {
  if (!isOpen(order.status)) return;
  if (isExpired(order, now)) {
    session.close(order, 'EXPIRED', 'EXPIRED', 'DAY_ORDER_EXPIRED');
    return;
  }
  const immediate = order.timeInForce === 'IOC' || order.timeInForce === 'FOK';
  if (!tick) {
    if (immediate) session.close(order, 'CANCELED', 'CANCELED', 'NO_MARKET_DATA');
    return;
  }
  if (session.seen(order, tick)) return;
  const m = matchable(order);
  if (awaitingTrigger(m)) {
    if (!stopReached(m, tick)) return;
    session.trigger(order, tick);
    m.triggered = true;
  }
  const fill = fillFor(m, tick, steps, pricing);
  if (order.timeInForce === 'FOK') {
    const remaining = m.quantity.sub(m.filledQuantity);
    if (!fill || fill.quantity.lt(remaining)) {
      session.close(order, 'CANCELED', 'CANCELED', 'FOK_NOT_FILLABLE');
      return;
    }
  }
  if (fill) {
    const refused = session.fill(order, fill.quantity, fill.price, tick);
    if (refused) {
      session.close(order, 'CANCELED', 'CANCELED', refused);
      return;
    }
  }
  if (order.timeInForce === 'IOC' && isOpen(order.status)) {
    session.close(order, 'CANCELED', 'CANCELED', 'IOC_REMAINDER');
  }
}
