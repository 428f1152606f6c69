import type { CandleInterval } from './generated/resolvers-types.js';

/** Bar tables and bucket widths of the candle intervals, smallest first. */
export const INTERVALS = {
  M1: { table: 'bars_1m', ms: 60_000 },
  M5: { table: 'bars_5m', ms: 5 * 60_000 },
  H1: { table: 'bars_1h', ms: 3_600_000 },
  D1: { table: 'bars_1d', ms: 86_400_000 },
} as const satisfies Record<CandleInterval, { table: string; ms: number }>;

export type BarTable = (typeof INTERVALS)[CandleInterval]['table'];

/** Start (epoch ms, UTC-aligned) of the bucket of width `ms` that contains `ts`. */
export function bucketStart(ts: number, ms: number): number {
  return Math.floor(ts / ms) * ms;
}

/** Seconds in a (365.25-day) year: the simulator and the volatility figures use calendar time. */
export const SECONDS_PER_YEAR = 365.25 * 86_400;
