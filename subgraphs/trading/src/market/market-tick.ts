/**
 * A price tick as market-data publishes it on Redis (`<REDIS_PREFIX>market:ticks:<SYMBOL>`, see
 * contracts/redis-names `channels.marketTicks`) and keeps as the latest quote (`sharedKeys.marketQuotes`).
 * The wire format is the shared contract (`contracts/market-tick.ts`); trading accepts
 * only ticks that are also sane to trade on (see {@link decodeMarketTick}).
 */
import { decodeTick, encodeTick, type Tick } from '../../../../contracts/market-tick.js';

/** A tick as trading uses it: the contract's {@link Tick} without the producer id. */
export type MarketTick = Omit<Tick, 'producer'>;

const DECIMAL = /^\d{1,30}(\.\d{1,20})?$/;

/**
 * Parses a tick message: the contract's {@link decodeTick}, then trading's own bounds (a 1-32 character symbol,
 * finite time and sequence, unsigned decimals that fit the columns, positive prices).
 * @returns the tick, or null when the message is not a well-formed, positive-priced tick
 */
export function decodeMarketTick(message: string): MarketTick | null {
  const tick = decodeTick(message);
  if (!tick) return null;
  const { symbol, price, bid, ask, size, ts, seq } = tick;
  if (symbol.length === 0 || symbol.length > 32) return null;
  if (!Number.isFinite(ts) || !Number.isFinite(seq)) return null;
  for (const d of [price, bid, ask, size]) if (!DECIMAL.test(d)) return null;
  if (Number(price) <= 0 || Number(bid) <= 0 || Number(ask) <= 0) return null;
  return { symbol, price, bid, ask, size, ts, seq };
}

/** Encodes a tick in the shared format (tests and benchmarks publish scripted ticks with it). */
export function encodeMarketTick(t: MarketTick, producer = 'trading'): string {
  return encodeTick({ ...t, producer });
}

/** True when `a` comes after `b` in feed order. */
export function isNewer(a: Pick<MarketTick, 'ts' | 'seq'>, b: Pick<MarketTick, 'ts' | 'seq'>): boolean {
  return a.ts > b.ts || (a.ts === b.ts && a.seq > b.seq);
}
