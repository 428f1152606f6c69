/**
 * Which replica's engine owns a symbol: one Redis lease per symbol (`trading:engine:<SYMBOL>`, value =
 * the replica's token), claimed and renewed for every symbol in one script call. A replica considers a
 * symbol its own only until its local deadline (the lease's TTL counted from before the call), so when
 * Redis becomes unreachable it lets go before another replica can take over. The database re-checks
 * every fill under row locks, so even two engines briefly processing one symbol cannot fill an order
 * twice (and a tick is applied to an order at most once).
 */
import type { Redis } from '../../../../lib/redis.js';
import { tradingKeys } from '../events/trading.channels.js';

// For each key: renew when ours, take when free, else leave it. Returns 1/0 per key.
const CLAIM = `
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('get', key)
  if v == ARGV[1] then
    redis.call('pexpire', key, ARGV[2])
    out[i] = 1
  elseif not v then
    redis.call('set', key, ARGV[1], 'PX', ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`;
const RELEASE = `
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then redis.call('del', key) end
end
return 1
`;

export class SymbolLocks {
  private readonly deadlines = new Map<string, number>();

  /** @param redis command client (its keyPrefix applies) */
  constructor(
    private readonly redis: Redis,
    readonly token: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True while this replica holds an unexpired lease on `symbol` (as far as it can tell locally). */
  holds(symbol: string): boolean {
    return (this.deadlines.get(symbol) ?? 0) > this.now();
  }

  /**
   * Claims (or renews) every symbol it can.
   * @returns the symbols held after the call
   */
  async claim(symbols: readonly string[]): Promise<Set<string>> {
    const held = new Set<string>();
    if (symbols.length === 0) return held;
    const started = this.now();
    const keys = symbols.map((s) => tradingKeys.engineLock(s));
    const result = (await this.redis.eval(
      CLAIM,
      keys.length,
      ...keys,
      this.token,
      String(this.ttlMs),
    )) as number[];
    symbols.forEach((s, i) => {
      if (result[i] === 1) {
        this.deadlines.set(s, started + this.ttlMs);
        held.add(s);
      } else {
        this.deadlines.delete(s);
      }
    });
    return held;
  }

  /** Gives up the given symbols (a successor takes over at once instead of after the TTL). */
  async release(symbols: readonly string[]): Promise<void> {
    for (const s of symbols) this.deadlines.delete(s);
    if (symbols.length === 0) return;
    const keys = symbols.map((s) => tradingKeys.engineLock(s));
    await this.redis.eval(RELEASE, keys.length, ...keys, this.token);
  }

  /** Forgets every lease locally (a crash, as far as others can tell, or a lost Redis). */
  abandon(): void {
    this.deadlines.clear();
  }
}
