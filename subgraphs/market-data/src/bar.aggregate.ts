import { bucketStart, INTERVALS } from './interval.js';
import { addScaled, formatScaled, mulScaled, parseScaled, type Scaled } from './scaled.js';
import type { Tick } from '../../../contracts/market-tick.js';

/** The contribution of a batch of ticks to one bar (merged into the stored bar by an upsert). */
export interface BarDelta {
  symbol: string;
  /** Bucket start, epoch ms. */
  bucket: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  /** Sum of price * size. */
  pv: string;
  trades: number;
  /** Times (epoch ms) of the first and last trade, to merge opens and closes in any order. */
  openTs: number;
  closeTs: number;
}

interface Acc {
  symbol: string;
  bucket: number;
  // Prices keep the tick's own string (its scale, e.g. "401.00"). High and low compare as doubles:
  // distinct decimals of up to 15 significant digits (every price here) order exactly as doubles.
  open: string;
  openKey: [number, number];
  high: number;
  highText: string;
  low: number;
  lowText: string;
  close: string;
  closeKey: [number, number];
  // Sums are exact (BigInt at a decimal scale).
  volume: Scaled;
  pv: Scaled;
  trades: number;
}

const before = (a: [number, number], b: [number, number]): boolean =>
  a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

/**
 * Aggregates ticks into 1-minute bar deltas, exactly: one delta per symbol and minute.
 * Ticks may come in any order; open and close follow (timestamp, sequence).
 */
export function aggregateMinuteBars(ticks: readonly Tick[]): BarDelta[] {
  const bars = new Map<string, Acc>();
  const width = INTERVALS.M1.ms;
  for (const t of ticks) {
    const bucket = bucketStart(t.ts, width);
    const key = `${t.symbol}|${bucket}`;
    const price = Number(t.price);
    const p = parseScaled(t.price);
    const size = parseScaled(t.size);
    const order: [number, number] = [t.ts, t.seq];
    const acc = bars.get(key);
    if (!acc) {
      bars.set(key, {
        symbol: t.symbol,
        bucket,
        open: t.price,
        openKey: order,
        high: price,
        highText: t.price,
        low: price,
        lowText: t.price,
        close: t.price,
        closeKey: order,
        volume: size,
        pv: mulScaled(p, size),
        trades: 1,
      });
      continue;
    }
    if (before(order, acc.openKey)) {
      acc.open = t.price;
      acc.openKey = order;
    }
    if (!before(order, acc.closeKey)) {
      acc.close = t.price;
      acc.closeKey = order;
    }
    if (price > acc.high) {
      acc.high = price;
      acc.highText = t.price;
    }
    if (price < acc.low) {
      acc.low = price;
      acc.lowText = t.price;
    }
    acc.volume = addScaled(acc.volume, size);
    acc.pv = addScaled(acc.pv, mulScaled(p, size));
    acc.trades += 1;
  }
  return [...bars.values()].map((a) => ({
    symbol: a.symbol,
    bucket: a.bucket,
    open: a.open,
    high: a.highText,
    low: a.lowText,
    close: a.close,
    volume: formatScaled(a.volume),
    pv: formatScaled(a.pv),
    trades: a.trades,
    openTs: a.openKey[0],
    closeTs: a.closeKey[0],
  }));
}

/** Distinct (symbol, bucket of width `ms`) pairs covering the given bars, as parallel arrays. */
export function parentBuckets(
  bars: readonly { symbol: string; bucket: number }[],
  ms: number,
): { symbols: string[]; buckets: number[] } {
  const seen = new Set<string>();
  const symbols: string[] = [];
  const buckets: number[] = [];
  for (const b of bars) {
    const parent = bucketStart(b.bucket, ms);
    const key = `${b.symbol}|${parent}`;
    if (seen.has(key)) continue;
    seen.add(key);
    symbols.push(b.symbol);
    buckets.push(parent);
  }
  return { symbols, buckets };
}
