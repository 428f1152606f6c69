import {
  ATR,
  BollingerBands,
  EMA,
  getLogReturns,
  getStandardDeviation,
  MACD,
  RSI,
  SMA,
} from 'trading-signals';
import { badInput } from '../../../lib/errors.js';
import type { CandleModel, CandleService } from './candle.service.js';
import { Dec, fromFloat, vwapOf } from './decimal.js';
import type { CandleInterval } from './generated/resolvers-types.js';
import { INTERVALS, SECONDS_PER_YEAR } from './interval.js';

/** Longest indicator period; also how many candles before the range are loaded for warm-up. */
export const MAX_PERIOD = 500;

/** What `Query.indicators` returns: the candles, and the earlier ones used only for warm-up. */
export interface IndicatorSetModel {
  symbol: string;
  interval: CandleInterval;
  candles: CandleModel[];
  warmup: CandleModel[];
}

export interface Point {
  time: Date;
  value: string;
}

/** Indicator outputs are floats inside the library; they leave as decimals with 8 places. */
const PLACES = 8;

function period(value: number | null | undefined, fallback: number, field: string): number {
  const p = value ?? fallback;
  if (!Number.isInteger(p) || p < 1 || p > MAX_PERIOD) {
    throw badInput(`\`${field}\` must be between 1 and ${MAX_PERIOD}`, { field, max: MAX_PERIOD });
  }
  return p;
}

/**
 * Runs `step` over warm-up and range candles, keeping results for range candles only (and only once
 * the indicator is stable, i.e. `step` returns non-null).
 */
function series<T>(set: IndicatorSetModel, step: (c: CandleModel) => T | null): { time: Date; result: T }[] {
  for (const c of set.warmup) step(c);
  const out: { time: Date; result: T }[] = [];
  for (const c of set.candles) {
    const r = step(c);
    if (r !== null) out.push({ time: c.start, result: r });
  }
  return out;
}

const single = (points: { time: Date; result: number }[]): Point[] =>
  points.map((p) => ({ time: p.time, value: fromFloat(p.result, PLACES) }));

/**
 * Technical indicators over candles, computed by the `trading-signals` library (SMA, EMA, RSI, MACD,
 * Bollinger, ATR), except VWAP, which is exact here from the bars' price * volume sums (the library's
 * VWAP approximates each bar by its typical price), and volatility (standard deviation of log
 * returns, annualized over calendar time, with the library's helpers).
 */
export class IndicatorService {
  constructor(private readonly candles: CandleService) {}

  /** Loads the candles of an `indicators` query (validated like `candles`) plus the warm-up. */
  async load(q: {
    symbol: string;
    interval: CandleInterval;
    from?: Date | null | undefined;
    to?: Date | null | undefined;
    limit?: number | null | undefined;
  }): Promise<IndicatorSetModel> {
    const { candles, warmup } = await this.candles.withWarmup(q, MAX_PERIOD);
    return { symbol: q.symbol, interval: q.interval, candles, warmup };
  }

  sma(set: IndicatorSetModel, p?: number | null): Point[] {
    const ind = new SMA(period(p, 20, 'period'));
    return single(series(set, (c) => ind.add(Number(c.close))));
  }

  ema(set: IndicatorSetModel, p?: number | null): Point[] {
    const ind = new EMA(period(p, 20, 'period'));
    return single(
      series(set, (c) => (ind.add(Number(c.close)), ind.isStable ? ind.getResultOrThrow() : null)),
    );
  }

  rsi(set: IndicatorSetModel, p?: number | null): Point[] {
    const ind = new RSI(period(p, 14, 'period'));
    return single(series(set, (c) => ind.add(Number(c.close))));
  }

  macd(
    set: IndicatorSetModel,
    args: { fast?: number | null; slow?: number | null; signal?: number | null },
  ): { time: Date; macd: string; signal: string; histogram: string }[] {
    const fast = period(args.fast, 12, 'fast');
    const slow = period(args.slow, 26, 'slow');
    const signal = period(args.signal, 9, 'signal');
    if (fast >= slow) throw badInput('`fast` must be shorter than `slow`', { field: 'fast' });
    const ind = new MACD(new EMA(fast), new EMA(slow), new EMA(signal));
    return series(set, (c) => ind.add(Number(c.close))).map((p) => ({
      time: p.time,
      macd: fromFloat(p.result.macd, PLACES),
      signal: fromFloat(p.result.signal, PLACES),
      histogram: fromFloat(p.result.histogram, PLACES),
    }));
  }

  bollinger(
    set: IndicatorSetModel,
    args: { period?: number | null; multiplier?: number | null },
  ): { time: Date; upper: string; middle: string; lower: string }[] {
    const multiplier = args.multiplier ?? 2;
    if (!Number.isFinite(multiplier) || multiplier <= 0 || multiplier > 10) {
      throw badInput('`multiplier` must be in (0, 10]', { field: 'multiplier' });
    }
    const ind = new BollingerBands(period(args.period, 20, 'period'), multiplier);
    return series(set, (c) => ind.add(Number(c.close))).map((p) => ({
      time: p.time,
      upper: fromFloat(p.result.upper, PLACES),
      middle: fromFloat(p.result.middle, PLACES),
      lower: fromFloat(p.result.lower, PLACES),
    }));
  }

  atr(set: IndicatorSetModel, p?: number | null): Point[] {
    const ind = new ATR(period(p, 14, 'period'));
    return single(
      series(set, (c) => ind.add({ high: Number(c.high), low: Number(c.low), close: Number(c.close) })),
    );
  }

  /** Cumulative VWAP over the range (no warm-up: it starts at the range's first candle), exact. */
  vwap(set: IndicatorSetModel): Point[] {
    let pv = new Dec(0);
    let volume = new Dec(0);
    const out: Point[] = [];
    for (const c of set.candles) {
      pv = pv.plus(c.pv);
      volume = volume.plus(c.volume);
      if (!volume.isZero()) out.push({ time: c.start, value: vwapOf(pv, volume) });
    }
    return out;
  }

  /** Rolling annualized volatility of log returns of closes over `period` returns. */
  volatility(set: IndicatorSetModel, p?: number | null): Point[] {
    const n = period(p, 20, 'period');
    if (n < 2) throw badInput('`period` must be at least 2 for volatility', { field: 'period' });
    const perYear = SECONDS_PER_YEAR / (INTERVALS[set.interval].ms / 1000);
    const all = [...set.warmup, ...set.candles];
    const returns = getLogReturns(all.map((c) => Number(c.close)));
    const out: Point[] = [];
    // returns[i] is the return into candle i + 1.
    for (let i = set.warmup.length; i < all.length; i++) {
      if (i < n) continue;
      const window = returns.slice(i - n, i);
      const sd = getStandardDeviation(window);
      out.push({ time: (all[i] as CandleModel).start, value: fromFloat(sd * Math.sqrt(perYear), PLACES) });
    }
    return out;
  }
}
