import { Decimal } from 'decimal.js';

/**
 * decimal.js with room for exact products and sums of money and market data: the default precision
 * (20 significant digits) would round large notionals and sums of price * size; 64 digits never does
 * here. Half-even rounding where a value has to be rounded (a ledger's scale, a VWAP quotient).
 */
export const Dec = Decimal.clone({ precision: 64, rounding: Decimal.ROUND_HALF_EVEN });
/** An instance of {@link Dec}. */
export type Dec = InstanceType<typeof Dec>;
