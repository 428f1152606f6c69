/**
 * Historical value at risk and expected shortfall. Method (named in every RiskReport):
 * historical simulation over the account's daily returns, 1-day horizon, no weighting and no
 * interpolation. With n returns sorted from worst to best and `m = max(1, ceil((1 - c) * n))` tail
 * observations at confidence c, VaR is minus the m-th worst return and ES minus the mean of the m
 * worst returns. Both are reported as positive loss fractions (0 when even the tail is a gain) and
 * converted to money on the current equity by the caller.
 */

/** Name of the method, as reported. */
export const VAR_METHOD =
  'historical-simulation (1-day, daily returns, empirical quantile, no interpolation)';

/** VaR and ES as positive fractions of equity. */
export interface TailRisk {
  valueAtRisk: number;
  expectedShortfall: number;
  /** Returns in the tail (the m worst). */
  tailCount: number;
}

/**
 * Historical VaR and ES at `confidence` (e.g. 0.95).
 * @returns zeros (tailCount 0) for an empty series
 */
export function historicalTailRisk(returns: readonly number[], confidence: number): TailRisk {
  if (returns.length === 0) return { valueAtRisk: 0, expectedShortfall: 0, tailCount: 0 };
  const sorted = [...returns].sort((a, b) => a - b);
  const m = Math.min(sorted.length, Math.max(1, Math.ceil((1 - confidence) * sorted.length - 1e-9)));
  let sum = 0;
  for (let i = 0; i < m; i++) sum += sorted[i] ?? 0;
  const quantile = sorted[m - 1] ?? 0;
  return {
    valueAtRisk: Math.max(0, -quantile),
    expectedShortfall: Math.max(0, -(sum / m)),
    tailCount: m,
  };
}
