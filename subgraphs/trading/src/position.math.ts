/**
 * Position accounting with average cost: adding to a position moves the average price; reducing it
 * realizes P&L against the average (which stays); crossing through zero realizes the closed part and
 * opens the rest at the fill price.
 */
import { Dec, fine, money } from './decimal.js';
import { sideSign, type Side } from './order.types.js';

export interface PositionState {
  quantity: Dec;
  averagePrice: Dec;
  realizedPnl: Dec;
}

/** The position after a fill of `quantity` at `price`, and the P&L the fill realized. */
export function applyFill(
  pos: PositionState,
  side: Side,
  quantity: Dec,
  price: Dec,
): { position: PositionState; realized: Dec } {
  const q = pos.quantity;
  const signed = quantity.mul(sideSign(side));
  const next = q.add(signed);
  if (q.isZero() || q.isNegative() === signed.isNegative()) {
    const avg = fine(q.abs().mul(pos.averagePrice).add(quantity.mul(price)).div(next.abs()));
    return {
      position: { quantity: next, averagePrice: avg, realizedPnl: pos.realizedPnl },
      realized: new Dec(0),
    };
  }
  const closing = Dec.min(quantity, q.abs());
  const realized = money(closing.mul(price.sub(pos.averagePrice)).mul(q.isNegative() ? -1 : 1));
  let avg: Dec;
  if (next.isZero()) avg = new Dec(0);
  else if (next.isNegative() === q.isNegative()) avg = pos.averagePrice;
  else avg = price;
  return {
    position: { quantity: next, averagePrice: avg, realizedPnl: pos.realizedPnl.add(realized) },
    realized,
  };
}

/** Market value and unrealized P&L of a position at `mark` (null without a mark). */
export function valuation(
  pos: PositionState,
  mark: Dec | null,
): { marketValue: Dec | null; unrealized: Dec | null } {
  if (mark === null) return { marketValue: null, unrealized: null };
  return {
    marketValue: pos.quantity.mul(mark),
    unrealized: pos.quantity.mul(mark.sub(pos.averagePrice)),
  };
}
