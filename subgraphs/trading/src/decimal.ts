import { Decimal } from 'decimal.js';
import { Dec } from '../../../lib/decimal.js';

/** lib's exact decimal (64 significant digits, half-even), re-exported for trading's modules. */
export { Dec };

export const ZERO = new Dec(0);

/** Decimal places of cash amounts (the ledger's `numeric(20, 4)`). */
export const MONEY_DECIMALS = 4;
/** Decimal places of prices and quantities (`numeric(28, 10)`). */
export const PRICE_DECIMALS = 10;

/** A value as a decimal; null and undefined stay null. */
export function dec(value: string | number | Dec): Dec;
export function dec(value: string | number | Dec | null | undefined): Dec | null;
export function dec(value: string | number | Dec | null | undefined): Dec | null {
  if (value === null || value === undefined) return null;
  return value instanceof Dec ? value : new Dec(value);
}

/** A cash amount rounded half-even to the ledger's scale. */
export function money(value: Dec): Dec {
  return value.toDecimalPlaces(MONEY_DECIMALS, Decimal.ROUND_HALF_EVEN);
}

/** A cash amount rounded up (reservations never fall short). */
export function moneyUp(value: Dec): Dec {
  return value.toDecimalPlaces(MONEY_DECIMALS, Decimal.ROUND_UP);
}

/** A price or quantity rounded half-even to the column scale. */
export function fine(value: Dec): Dec {
  return value.toDecimalPlaces(PRICE_DECIMALS, Decimal.ROUND_HALF_EVEN);
}

/** Canonical text of a decimal: no exponent, no trailing zeros ("190.5", "100000"). */
export function str(value: Dec | string): string {
  return (value instanceof Dec ? value : new Dec(value)).toFixed();
}

/** Like {@link str}, null-preserving. */
export function strOrNull(value: Dec | string | null | undefined): string | null {
  return value === null || value === undefined ? null : str(value);
}

/** True when `value` is a whole multiple of `step` (step > 0). */
export function isMultipleOf(value: Dec, step: Dec): boolean {
  return step.isZero() || value.mod(step).isZero();
}

/** `value` rounded down (toward zero) to a multiple of `step`. */
export function floorTo(value: Dec, step: Dec): Dec {
  if (step.isZero()) return value;
  return value.div(step).floor().mul(step);
}

/** `value` rounded up to a multiple of `step`. */
export function ceilTo(value: Dec, step: Dec): Dec {
  if (step.isZero()) return value;
  return value.div(step).ceil().mul(step);
}

/** The smaller of two decimals. */
export function minDec(a: Dec, b: Dec): Dec {
  return a.lte(b) ? a : b;
}

/** The larger of two decimals. */
export function maxDec(a: Dec, b: Dec): Dec {
  return a.gte(b) ? a : b;
}
