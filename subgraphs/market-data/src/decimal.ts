import { Decimal } from 'decimal.js';

/**
 * decimal.js with room for exact sums: the default precision (20 significant digits) would round
 * large sums of price * size; 64 digits never does for market data. Half-even rounding where a
 * division has to round (VWAP).
 */
export const Dec = Decimal.clone({ precision: 64, rounding: Decimal.ROUND_HALF_EVEN });
export type Dec = InstanceType<typeof Dec>;

/** Decimal places of a VWAP (an exact quotient rarely terminates). */
export const VWAP_DECIMALS = 10;

/**
 * VWAP = sum(price * size) / sum(size), rounded half-even to {@link VWAP_DECIMALS} places.
 * @returns "0" when there was no volume
 */
export function vwapOf(pv: string | Dec, volume: string | Dec): string {
  const v = new Dec(volume);
  if (v.isZero()) return '0';
  return new Dec(pv).div(v).toDecimalPlaces(VWAP_DECIMALS).toFixed();
}

/** A float (indicator output) as a decimal string with at most `places` decimals; never exponent notation. */
export function fromFloat(x: number, places = 8): string {
  return new Dec(x).toDecimalPlaces(places).toFixed();
}
