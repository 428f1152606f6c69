/**
 * Latest quotes for trading: ticks the execution engine receives for the symbols it owns are kept in
 * memory (always current, no round trip); any other symbol is read from market-data's quotes hash in
 * Redis (`sharedKeys.marketQuotes` of contracts/redis-names, written atomically with each publish). Reads of several symbols
 * are one HMGET.
 */
import { sharedKeys } from '../../../../contracts/redis-names.js';
import type { Redis } from '../../../../lib/redis.js';
import { decodeMarketTick, isNewer, type MarketTick } from './market-tick.js';

export class QuoteBook {
  private readonly live = new Map<string, MarketTick>();
  private readonly owned = new Set<string>();

  /** @param redis command client whose keyPrefix is REDIS_PREFIX */
  constructor(private readonly redis: Redis) {}

  /** Marks `symbol` as fed by this process (the engine owns it): reads come from memory. */
  own(symbol: string): void {
    this.owned.add(symbol);
  }

  /** Stops treating `symbol` as fed by this process. */
  disown(symbol: string): void {
    this.owned.delete(symbol);
    this.live.delete(symbol);
  }

  /** Records a tick (older ticks than the one held are ignored). */
  update(tick: MarketTick): void {
    const held = this.live.get(tick.symbol);
    if (!held || isNewer(tick, held)) this.live.set(tick.symbol, tick);
  }

  /** The latest tick of `symbol`, or null before the first one (or when Redis is unreachable). */
  async get(symbol: string): Promise<MarketTick | null> {
    return (await this.getMany([symbol])).get(symbol) ?? null;
  }

  /** Latest ticks of several symbols; symbols without a quote are left out. */
  async getMany(symbols: readonly string[]): Promise<Map<string, MarketTick>> {
    const out = new Map<string, MarketTick>();
    const remote: string[] = [];
    for (const s of new Set(symbols)) {
      const t = this.owned.has(s) ? this.live.get(s) : undefined;
      if (t) out.set(s, t);
      else remote.push(s);
    }
    if (remote.length === 0) return out;
    try {
      const values = await this.redis.hmget(sharedKeys.marketQuotes, ...remote);
      remote.forEach((s, i) => {
        const v = values[i];
        const t = v ? decodeMarketTick(v) : null;
        const mem = this.live.get(s);
        // A tick injected locally (tests, a replica catching up) may be newer than the hash.
        const best = t && mem ? (isNewer(mem, t) ? mem : t) : (t ?? mem);
        if (best && best.symbol === s) out.set(s, best);
      });
    } catch {
      // Quotes are best effort: an unreachable Redis reads as "no quote", which rejects market orders
      // (NO_MARKET_DATA) instead of failing the request.
      for (const s of remote) {
        const mem = this.live.get(s);
        if (mem) out.set(s, mem);
      }
    }
    return out;
  }
}
