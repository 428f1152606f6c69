import { Dec } from '../../../../lib/decimal.js';
/**
 * Round trips from fills, by average cost (the convention trading uses for positions): a fill that
 * adds to a position moves its average price; a fill that reduces it closes that quantity at the
 * average price and yields one closed trade; a fill that crosses zero closes the whole position and
 * opens the rest on the other side at the fill price. Fees are not part of trade P&L (they are in
 * the cash ledger, hence in equity and returns).
 */

/** The open position of one account and symbol, as analytics tracks it. */
export interface Lot {
  /** Signed: negative is short. */
  quantity: Dec;
  averagePrice: Dec;
  /** When the position was opened from flat (holding time starts here). */
  openedAt: Date;
}

export interface Fill {
  side: 'BUY' | 'SELL';
  quantity: Dec;
  price: Dec;
  at: Date;
}

export interface ClosedRoundTrip {
  direction: 'LONG' | 'SHORT';
  quantity: Dec;
  entryPrice: Dec;
  exitPrice: Dec;
  pnl: Dec;
  openedAt: Date;
  closedAt: Date;
}

/**
 * Applies one fill to a lot.
 * @returns the new lot (null when flat) and the round trip it closed, if any
 */
export function applyFill(lot: Lot | null, fill: Fill): { lot: Lot | null; closed: ClosedRoundTrip | null } {
  const signed = fill.side === 'BUY' ? fill.quantity : fill.quantity.neg();
  if (!lot || lot.quantity.isZero()) {
    return { lot: { quantity: signed, averagePrice: fill.price, openedAt: fill.at }, closed: null };
  }
  const sameSide = lot.quantity.isPositive() === signed.isPositive();
  if (sameSide) {
    const quantity = lot.quantity.plus(signed);
    const cost = lot.quantity.times(lot.averagePrice).plus(signed.times(fill.price));
    return { lot: { quantity, averagePrice: cost.div(quantity), openedAt: lot.openedAt }, closed: null };
  }
  const closing = Dec.min(lot.quantity.abs(), signed.abs());
  const long = lot.quantity.isPositive();
  const pnl = fill.price
    .minus(lot.averagePrice)
    .times(closing)
    .times(long ? 1 : -1);
  const closed: ClosedRoundTrip = {
    direction: long ? 'LONG' : 'SHORT',
    quantity: closing,
    entryPrice: lot.averagePrice,
    exitPrice: fill.price,
    pnl,
    openedAt: lot.openedAt,
    closedAt: fill.at,
  };
  const rest = lot.quantity.plus(signed);
  if (rest.isZero()) return { lot: null, closed };
  if (rest.isPositive() === long) {
    return { lot: { quantity: rest, averagePrice: lot.averagePrice, openedAt: lot.openedAt }, closed };
  }
  return { lot: { quantity: rest, averagePrice: fill.price, openedAt: fill.at }, closed };
}
