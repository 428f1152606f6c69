import { Dec } from '../../../lib/decimal.js';

/** lib's exact decimal (64 significant digits, half-even), re-exported for market-data's modules. */
export { Dec };

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
