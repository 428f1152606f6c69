/**
 * The price tick wire format. Producer: market-data's feed, on `channels.marketTicks` and in the
 * `sharedKeys.marketQuotes` hash (contracts/redis-names.ts). Consumers: market-data's subscriptions
 * and tick writer, trading's execution engine and quote book, analytics' market repository. Decimals are strings (exact, already rounded to the instrument's tick and
 * lot sizes); the timestamp is epoch milliseconds. The wire format, shared here so both sides agree,
 * is one JSON object with compact keys `{ s, p, b, a, z, t, q, o }`.
 */
export interface Tick {
  symbol: string;
  /** Last trade price. */
  price: string;
  bid: string;
  ask: string;
  /** Trade size, a multiple of the lot size. */
  size: string;
  /** Epoch milliseconds (UTC). */
  ts: number;
  /** Producer sequence number; orders ticks that share a millisecond. */
  seq: number;
  /** Id of the feed instance that produced the tick (shows which replica led). */
  producer: string;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

/** Serializes a tick for pub/sub and the quote hash (one JSON object, compact keys). */
export function encodeTick(t: Tick): string {
  return JSON.stringify({
    s: t.symbol,
    p: t.price,
    b: t.bid,
    a: t.ask,
    z: t.size,
    t: t.ts,
    q: t.seq,
    o: t.producer,
  });
}

/**
 * Parses a tick published by {@link encodeTick}. Readers with stricter needs (trading wants positive,
 * bounded prices) check the result further.
 * @returns the tick, or `null` when the message is not a well-formed tick (never trusted blindly)
 */
export function decodeTick(message: string): Tick | null {
  let raw: unknown;
  try {
    raw = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const { s, p, b, a, z, t, q, o } = raw as Record<string, unknown>;
  if (typeof s !== 'string' || typeof t !== 'number' || typeof q !== 'number') return null;
  for (const d of [p, b, a, z]) if (typeof d !== 'string' || !DECIMAL.test(d)) return null;
  return {
    symbol: s,
    price: p as string,
    bid: b as string,
    ask: a as string,
    size: z as string,
    ts: t,
    seq: q,
    producer: typeof o === 'string' ? o : '',
  };
}
