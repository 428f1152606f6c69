import type { Redis } from '../../../lib/redis.js';
import { decodeTick, type Tick } from '../../../contracts/market-tick.js';

/**
 * Latest quotes, one hash field per symbol holding the last published tick (written atomically with
 * the publish, see feed/tick.publisher.ts). Reads of many symbols in one request are batched into a
 * single HMGET per event-loop turn.
 */
export class QuoteStore {
  private pending: Map<string, ((t: Tick | null) => void)[]> | undefined;

  /** @param redis command client with the market key prefix; `key` is the hash (unprefixed) */
  constructor(
    private readonly redis: Redis,
    readonly key: string,
  ) {}

  /** The latest tick of `symbol`, or null before the first one. */
  get(symbol: string): Promise<Tick | null> {
    return new Promise((resolve) => {
      if (!this.pending) {
        this.pending = new Map();
        // drain() settles every waiter itself and never rejects.
        queueMicrotask(() => void this.drain());
      }
      const waiters = this.pending.get(symbol);
      if (waiters) waiters.push(resolve);
      else this.pending.set(symbol, [resolve]);
    });
  }

  /** Latest ticks of several symbols (missing ones are left out). */
  async getMany(symbols: readonly string[]): Promise<Map<string, Tick>> {
    const out = new Map<string, Tick>();
    if (symbols.length === 0) return out;
    const values = await this.redis.hmget(this.key, ...symbols);
    symbols.forEach((s, i) => {
      const v = values[i];
      const t = v ? decodeTick(v) : null;
      if (t) out.set(s, t);
    });
    return out;
  }

  private async drain(): Promise<void> {
    const batch = this.pending;
    this.pending = undefined;
    if (!batch) return;
    const symbols = [...batch.keys()];
    try {
      const found = await this.getMany(symbols);
      for (const [s, waiters] of batch) for (const w of waiters) w(found.get(s) ?? null);
    } catch {
      // Quotes are best effort: an unreachable Redis reads as "no quote yet", not as a failed query.
      for (const waiters of batch.values()) for (const w of waiters) w(null);
    }
  }
}
