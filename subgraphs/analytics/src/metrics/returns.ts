/**
 * Return and risk-adjusted-return metrics of an equity series. Pure functions over plain numbers:
 * ratios are floats (the API exposes them as Float), money never passes through here.
 */

/** Trading days per year used for every annualization. */
export const TRADING_DAYS = 252;

/** One equity observation (daily or intraday). */
export interface EquitySnapshot {
  at: Date;
  equity: number;
  /** Net external cash flow since the previous snapshot (deposit +, withdrawal -), included in `equity`. */
  externalFlow: number;
}

/** A period return, dated at the end of its period. */
export interface PeriodReturn {
  at: Date;
  value: number;
}

/**
 * Period returns between consecutive snapshots, neutral to external flows. A period that starts
 * from zero (or negative) equity has no defined return and is skipped.
 *
 * Conventions (also written in schema.graphql):
 * - A snapshot's `externalFlow` is the net deposit (+) or withdrawal (-) since the previous snapshot,
 *   already included in its equity. The period return is `(E_i - F_i) / E_{i-1} - 1`: the flow is
 *   treated as arriving at the end of the period, so it earns nothing and costs nothing.
 * - Time-weighted return (TWR) chains the period returns: `prod(1 + r_i) - 1`.
 * - Annualization uses 252 trading days: annualized return `(1 + TWR)^(252 / n) - 1`, volatility
 *   `stdev * sqrt(252)` with the sample standard deviation (n - 1).
 * - The risk-free rate is annual; its daily rate is `rf / 252`.
 */
export function periodReturns(snapshots: readonly EquitySnapshot[]): PeriodReturn[] {
  const out: PeriodReturn[] = [];
  for (let i = 1; i < snapshots.length; i++) {
    const prev = snapshots[i - 1];
    const cur = snapshots[i];
    if (!prev || !cur || prev.equity <= 0) continue;
    out.push({ at: cur.at, value: (cur.equity - cur.externalFlow) / prev.equity - 1 });
  }
  return out;
}

/** Time-weighted return of a series of period returns: `prod(1 + r) - 1` (0 for no returns). */
export function timeWeightedReturn(returns: readonly number[]): number {
  let growth = 1;
  for (const r of returns) growth *= 1 + r;
  return growth - 1;
}

/**
 * Annualized return from a total return over `periods` daily returns: `(1 + total)^(252/periods) - 1`.
 * @returns null with no periods, or when the total lost everything (no real root)
 */
export function annualizedReturn(total: number, periods: number): number | null {
  if (periods <= 0 || 1 + total <= 0) return null;
  return Math.pow(1 + total, TRADING_DAYS / periods) - 1;
}

/** Arithmetic mean; NaN for an empty series. */
export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n - 1); null with fewer than two values. */
export function sampleStdev(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (xs.length - 1));
}

/** Rounding noise of float arithmetic below which a dispersion counts as zero. */
const EPSILON = 1e-12;

/** Annualized volatility: sample stdev of daily returns times sqrt(252); null with fewer than two returns. */
export function annualizedVolatility(returns: readonly number[]): number | null {
  const sd = sampleStdev(returns);
  return sd === null ? null : sd * Math.sqrt(TRADING_DAYS);
}

/**
 * Sharpe ratio, annualized: `(mean(r) - rf/252) / stdev(r) * sqrt(252)`.
 * @returns null with fewer than two returns or zero volatility (undefined ratio)
 */
export function sharpeRatio(returns: readonly number[], riskFreeAnnual: number): number | null {
  const sd = sampleStdev(returns);
  if (sd === null || sd < EPSILON) return null;
  return ((mean(returns) - riskFreeAnnual / TRADING_DAYS) / sd) * Math.sqrt(TRADING_DAYS);
}

/**
 * Sortino ratio, annualized: `(mean(r) - rf/252) / DD * sqrt(252)` where the downside deviation
 * `DD = sqrt(sum(min(0, r - rf/252)^2) / n)` runs over all n returns (target = the daily risk-free rate).
 * @returns null with fewer than two returns or no downside at all
 */
export function sortinoRatio(returns: readonly number[], riskFreeAnnual: number): number | null {
  if (returns.length < 2) return null;
  const target = riskFreeAnnual / TRADING_DAYS;
  let ss = 0;
  for (const r of returns) {
    const d = Math.min(0, r - target);
    ss += d * d;
  }
  const dd = Math.sqrt(ss / returns.length);
  if (dd < EPSILON) return null;
  return ((mean(returns) - target) / dd) * Math.sqrt(TRADING_DAYS);
}

/** The deepest peak-to-trough fall of the wealth index. */
export interface Drawdown {
  /** Positive fraction: 0.2 is a 20 % fall from the peak (0 when the index never fell). */
  depth: number;
  peakAt: Date | null;
  troughAt: Date | null;
  /** First date the index got back to the peak; null if it has not. */
  recoveredAt: Date | null;
  /** Calendar days from the peak to the recovery, or to the last observation when not recovered. */
  durationDays: number;
}

const DAY_MS = 86_400_000;

/**
 * Maximum drawdown of the wealth index built from period returns (so deposits do not look like
 * recoveries). The index starts at 1 at `start` (the first snapshot), before the first return.
 */
export function maxDrawdown(start: Date | null, returns: readonly PeriodReturn[]): Drawdown {
  const none: Drawdown = { depth: 0, peakAt: null, troughAt: null, recoveredAt: null, durationDays: 0 };
  if (start === null) return none;
  let wealth = 1;
  let peak = 1;
  let peakAt = start;
  let best = none;
  let open: { peak: number; peakAt: Date } | null = null;
  for (const r of returns) {
    wealth *= 1 + r.value;
    if (wealth >= peak) {
      if (open && best.peakAt === open.peakAt && best.recoveredAt === null) {
        best = { ...best, recoveredAt: r.at, durationDays: daysBetween(best.peakAt, r.at) };
      }
      peak = wealth;
      peakAt = r.at;
      open = null;
      continue;
    }
    open ??= { peak, peakAt };
    const depth = 1 - wealth / peak;
    if (depth > best.depth) {
      best = { depth, peakAt, troughAt: r.at, recoveredAt: null, durationDays: 0 };
    }
  }
  if (best.peakAt && best.recoveredAt === null) {
    const last = returns[returns.length - 1];
    best = { ...best, durationDays: last ? daysBetween(best.peakAt, last.at) : 0 };
  }
  return best;
}

function daysBetween(a: Date | null, b: Date): number {
  return a ? Math.round((b.getTime() - a.getTime()) / DAY_MS) : 0;
}

/** Calmar ratio: annualized return over maximum drawdown; null when either is missing or the drawdown is 0. */
export function calmarRatio(annualized: number | null, drawdownDepth: number): number | null {
  if (annualized === null || drawdownDepth <= 0) return null;
  return annualized / drawdownDepth;
}

/** Best and worst period return (first one wins a tie); null for no returns. */
export function extremes(
  returns: readonly PeriodReturn[],
): { best: PeriodReturn; worst: PeriodReturn } | null {
  const first = returns[0];
  if (!first) return null;
  let best = first;
  let worst = first;
  for (const r of returns) {
    if (r.value > best.value) best = r;
    if (r.value < worst.value) worst = r;
  }
  return { best, worst };
}

/** Compounded return of one calendar month (UTC). */
export interface MonthlyReturn {
  /** `YYYY-MM`. */
  month: string;
  value: number;
}

/** Period returns compounded per calendar month (UTC) of their end date, in order. */
export function monthlyReturns(returns: readonly PeriodReturn[]): MonthlyReturn[] {
  const out: MonthlyReturn[] = [];
  let current = -1;
  for (const r of returns) {
    // The month as a number, formatted only when it changes (a string per return costs more).
    const key = r.at.getUTCFullYear() * 12 + r.at.getUTCMonth();
    const last = out[out.length - 1];
    if (last && key === current) last.value = (1 + last.value) * (1 + r.value) - 1;
    else {
      current = key;
      out.push({ month: r.at.toISOString().slice(0, 7), value: r.value });
    }
  }
  return out;
}

/** Annualized volatility of each trailing window of `window` returns, dated at the window's end. */
export function rollingVolatility(returns: readonly PeriodReturn[], window: number): PeriodReturn[] {
  const out: PeriodReturn[] = [];
  if (window < 2) return out;
  for (let end = window; end <= returns.length; end++) {
    const slice = returns.slice(end - window, end);
    const v = annualizedVolatility(slice.map((r) => r.value));
    const at = slice[slice.length - 1]?.at;
    if (v !== null && at) out.push({ at, value: v });
  }
  return out;
}

/** Alpha and beta against a benchmark (CAPM regression on daily excess returns). */
export interface AlphaBeta {
  /** `cov(r, b) / var(b)`, sample moments. */
  beta: number;
  /** Jensen's alpha, annualized: `((mean(r) - rf_d) - beta * (mean(b) - rf_d)) * 252`. */
  alpha: number;
  /** Pearson correlation of the two series. */
  correlation: number | null;
}

/**
 * Alpha and beta of aligned return series (same length, same dates).
 * @returns null with fewer than two pairs or a benchmark without variance
 */
export function alphaBeta(
  returns: readonly number[],
  benchmark: readonly number[],
  riskFreeAnnual: number,
): AlphaBeta | null {
  const n = Math.min(returns.length, benchmark.length);
  if (n < 2) return null;
  const r = returns.slice(0, n);
  const b = benchmark.slice(0, n);
  const mr = mean(r);
  const mb = mean(b);
  let cov = 0;
  let varB = 0;
  let varR = 0;
  for (let i = 0; i < n; i++) {
    const dr = (r[i] ?? 0) - mr;
    const db = (b[i] ?? 0) - mb;
    cov += dr * db;
    varB += db * db;
    varR += dr * dr;
  }
  if (varB / (n - 1) < EPSILON * EPSILON) return null;
  const beta = cov / varB;
  const rf = riskFreeAnnual / TRADING_DAYS;
  const alpha = (mr - rf - beta * (mb - rf)) * TRADING_DAYS;
  const correlation = varR > 0 ? cov / Math.sqrt(varR * varB) : null;
  return { beta, alpha, correlation };
}
