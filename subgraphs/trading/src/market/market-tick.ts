/**
 * A price tick as market-data publishes it on Redis (`<REDIS_PREFIX>market:ticks:<SYMBOL>`, see lib/redis
 * `channels.marketTicks`) and keeps as the latest quote (hash `<REDIS_PREFIX>market:quotes`, one field
 * per symbol). The wire format is market-data's: one JSON object with compact keys
 * `{ s, p, b, a, z, t, q, o }` (symbol, last price, bid, ask, trade size, epoch ms, sequence, producer).
 * It is decoded here rather than imported, since subgraphs share no source; a change of the format on
 * market-data's side shows up as ticks rejected by {@link decodeMarketTick}.
 */
export interface MarketTick {
  symbol: string;
  /** Last trade price: stops trigger on it, positions are marked with it. */
  price: string;
  bid: string;
  ask: string;
  /** Trade size (the liquidity model scales with it). */
  size: string;
  /** Feed time, epoch milliseconds. */
  ts: number;
  /** Producer sequence, orders ticks of one millisecond. */
  seq: number;
}

const DECIMAL = /^\d{1,30}(\.\d{1,20})?$/;

/**
 * Parses a tick message.
 * @returns the tick, or null when the message is not a well-formed, positive-priced tick
 */
export function decodeMarketTick(message: string): MarketTick | null {
  let raw: unknown;
  try {
    raw = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const { s, p, b, a, z, t, q } = raw as Record<string, unknown>;
  if (typeof s !== 'string' || s.length === 0 || s.length > 32) return null;
  if (typeof t !== 'number' || !Number.isFinite(t) || typeof q !== 'number' || !Number.isFinite(q))
    return null;
  for (const d of [p, b, a, z]) if (typeof d !== 'string' || !DECIMAL.test(d)) return null;
  if (Number(p) <= 0 || Number(b) <= 0 || Number(a) <= 0) return null;
  return {
    symbol: s,
    price: p as string,
    bid: b as string,
    ask: a as string,
    size: z as string,
    ts: t,
    seq: q,
  };
}

/** Encodes a tick in market-data's format (tests and benchmarks publish scripted ticks with it). */
export function encodeMarketTick(t: MarketTick, producer = 'trading'): string {
  return JSON.stringify({
    s: t.symbol,
    p: t.price,
    b: t.bid,
    a: t.ask,
    z: t.size,
    t: t.ts,
    q: t.seq,
    o: producer,
  });
}

/** True when `a` comes after `b` in feed order. */
export function isNewer(a: Pick<MarketTick, 'ts' | 'seq'>, b: Pick<MarketTick, 'ts' | 'seq'>): boolean {
  return a.ts > b.ts || (a.ts === b.ts && a.seq > b.seq);
}
