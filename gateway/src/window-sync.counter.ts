/**
 * Fixed-window counters decided in this process and reconciled with Redis in the background, so a
 * request costs no Redis round trip (the rate limits and the cost budget cost one each before).
 * Each key holds the total Redis reported at the last sync plus what this process counted since;
 * every `syncMs` one script per counter adds the local counts to the shared Redis counters and reads
 * back the totals and the time left. The keys and values are rate-limiter-flexible's (an integer
 * whose TTL is the window, started by the first increment), so replicas of either kind share them.
 * One replica alone is exact; across replicas a key learns the others' counts at most one sync plus
 * a round trip late (docs/security.md). A process that cannot sync for `staleMs` fails closed.
 */
import { unavailable } from '../../lib/errors.js';
import type { Redis } from '../../lib/redis.js';

// KEYS: counters; ARGV[1]: the window (ms); ARGV[i + 1]: the amount to add to KEYS[i]. A counter is
// created with the window as its TTL; returns { total1, msLeft1, total2, msLeft2, ... }.
const ADD_ALL = `
local out = {}
for i, key in ipairs(KEYS) do
  local total = redis.call('incrby', key, ARGV[i + 1])
  local ttl = redis.call('pttl', key)
  if ttl < 0 then
    redis.call('pexpire', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = total
  out[#out + 1] = ttl
end
return out
`;

/** Keys per script call (a flood of distinct client IPs must not make one huge script run). */
const KEYS_PER_CALL = 500;

/** Longest wait for the last sync on stop. */
const STOP_WAIT_MS = 1000;

/** How often windows that ended are dropped from memory. */
const SWEEP_EVERY_MS = 1000;

type SyncRedis = Redis & {
  windowAddAll(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
};

/** One key's window as this process sees it. */
interface Window {
  /** Total in Redis at the last sync (what this process sent before included). */
  synced: number;
  /** Counted here and not yet sent. */
  pending: number;
  /** Sent, not yet answered. */
  inFlight: number;
  /** End of the window (epoch ms): Redis's TTL once synced, else first use + the window. */
  resetAt: number;
}

/** The outcome of {@link WindowCounter.consume}. */
export interface WindowVerdict {
  allowed: boolean;
  /** Until the window ends. */
  msBeforeNext: number;
}

/** Options of {@link WindowSync}. */
export interface WindowSyncOptions {
  /** Interval between reconciliations with Redis. */
  syncMs: number;
  /**
   * After this long without a successful sync while there are counts to send, `consume` throws:
   * a store error is not a pass.
   * @default max(2000, 20 × syncMs)
   */
  staleMs?: number;
}

/** A fixed-window limit on one key space; made by {@link WindowSync.counter}. */
export class WindowCounter {
  private readonly windows = new Map<string, Window>();
  private readonly dirty = new Set<string>();

  constructor(
    private readonly sync: WindowSync,
    /** Appended to the client's keyPrefix, then `:` and the key (rate-limiter-flexible's layout). */
    readonly keyPrefix: string,
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /**
   * Counts `points` against `key` and says whether the window's total stays within the limit.
   * @param countRefused count a refused consumption too (a rate limit: hammering does not reopen the
   *   window early), or not at all (a budget: a refused operation spends nothing)
   * @param limit this key's own limit (a tenant's), else the counter's
   * @throws when Redis has been unreachable for longer than `staleMs`
   */
  consume(key: string, points: number, countRefused: boolean, limit = this.limit): WindowVerdict {
    this.sync.assertFresh();
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || now >= w.resetAt) {
      // A new object: an answer to a sync sent for the old window must not land on this one.
      w = { synced: 0, pending: 0, inFlight: 0, resetAt: now + this.windowMs };
      this.windows.set(key, w);
    }
    const allowed = w.synced + w.inFlight + w.pending + points <= limit;
    if (allowed || countRefused) {
      w.pending += points;
      this.dirty.add(key);
    }
    return { allowed, msBeforeNext: w.resetAt - now };
  }

  /**
   * Whether `points` more would stay within the limit of `key`'s window, counting nothing (to check
   * several windows before charging any of them).
   */
  wouldAllow(key: string, points: number, limit = this.limit): WindowVerdict {
    this.sync.assertFresh();
    const now = Date.now();
    const w = this.windows.get(key);
    if (!w || now >= w.resetAt) return { allowed: points <= limit, msBeforeNext: this.windowMs };
    return { allowed: w.synced + w.inFlight + w.pending + points <= limit, msBeforeNext: w.resetAt - now };
  }

  /** Sends the pending counts of this counter; see {@link WindowSync}. */
  async flush(redis: SyncRedis): Promise<void> {
    if (this.dirty.size === 0) return;
    const batch: [string, Window, number][] = [];
    for (const key of this.dirty) {
      const w = this.windows.get(key);
      if (!w || w.pending === 0) continue;
      batch.push([key, w, w.pending]);
      w.inFlight += w.pending;
      w.pending = 0;
    }
    this.dirty.clear();
    const calls: Promise<void>[] = [];
    for (let i = 0; i < batch.length; i += KEYS_PER_CALL) {
      const part = batch.slice(i, i + KEYS_PER_CALL);
      const keys = part.map(([key]) => `${this.keyPrefix}:${key}`);
      const amounts = part.map(([, , n]) => n);
      calls.push(
        redis.windowAddAll(part.length, ...keys, this.windowMs, ...amounts).then(
          (reply) => {
            const now = Date.now();
            for (const [j, [key, w, n]] of part.entries()) {
              w.inFlight -= n;
              if (this.windows.get(key) !== w) continue;
              w.synced = Number(reply[2 * j]);
              w.resetAt = now + Number(reply[2 * j + 1]);
            }
          },
          (err: unknown) => {
            // Kept for the next sync; the window it belongs to may have ended meanwhile.
            for (const [key, w, n] of part) {
              w.inFlight -= n;
              if (this.windows.get(key) !== w) continue;
              w.pending += n;
              this.dirty.add(key);
            }
            throw err;
          },
        ),
      );
    }
    const results = await Promise.allSettled(calls);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Forgets windows that ended with nothing left to send. */
  sweep(now: number): void {
    for (const [key, w] of this.windows) {
      if (now >= w.resetAt && w.pending === 0 && w.inFlight === 0) this.windows.delete(key);
    }
  }
}

/**
 * The counters of one Redis command client and the timer that reconciles them (see the module
 * comment). Start with {@link start}; {@link stop} sends what is left.
 */
export class WindowSync {
  private readonly redis: SyncRedis;
  private readonly counters: WindowCounter[] = [];
  private readonly staleMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastSweep = Date.now();
  /** Since when syncs fail (undefined while they succeed). */
  private failingSince: number | undefined;

  /** @param redis a command client; its keyPrefix applies to every counter */
  constructor(
    redis: Redis,
    private readonly opts: WindowSyncOptions,
  ) {
    if (!('windowAddAll' in redis)) redis.defineCommand('windowAddAll', { lua: ADD_ALL });
    this.redis = redis as SyncRedis;
    this.staleMs = opts.staleMs ?? Math.max(2000, 20 * opts.syncMs);
  }

  /** A counter allowing `limit` per window of `windowSeconds` on keys `<keyPrefix>:<key>`. */
  counter(keyPrefix: string, limit: number, windowSeconds: number): WindowCounter {
    const c = new WindowCounter(this, keyPrefix, limit, windowSeconds * 1000);
    this.counters.push(c);
    return c;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.syncNow(), this.opts.syncMs);
    this.timer.unref();
  }

  /**
   * Stops the timer and sends the pending counts, waiting at most `STOP_WAIT_MS` (Redis may be the
   * reason the process stops; what is not sent is lost, as a window's counts are at its end anyway).
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STOP_WAIT_MS);
    });
    // A sync already under way may have missed the latest counts: one more after it.
    const sent = (this.running ?? Promise.resolve()).then(() => this.syncNow());
    await Promise.race([sent, waited]);
    clearTimeout(timer);
  }

  /** One reconciliation of every counter (also what the timer runs); never overlaps another. */
  syncNow(): Promise<void> {
    this.running ??= this.flushAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Throws when syncs have failed for longer than `staleMs`: lib/errors `unavailable`, so the request is
   * refused retryably (503 with Retry-After) like any check that cannot be made now, not masked as an
   * unexpected 500 (what a Redis failover showed clients for a second or two, bench/redis-failover.ts).
   */
  assertFresh(): void {
    if (this.failingSince !== undefined && Date.now() - this.failingSince > this.staleMs) {
      throw unavailable(
        `Rate limits could not be checked (counters not synced with Redis for over ${this.staleMs} ms); retry`,
      );
    }
  }

  private async flushAll(): Promise<void> {
    // Issued in the same tick: with auto-pipelining the scripts leave in one write.
    const results = await Promise.allSettled(this.counters.map((c) => c.flush(this.redis)));
    const now = Date.now();
    if (results.some((r) => r.status === 'rejected')) this.failingSince ??= now;
    else this.failingSince = undefined;
    if (now - this.lastSweep >= SWEEP_EVERY_MS) {
      this.lastSweep = now;
      for (const c of this.counters) c.sweep(now);
    }
  }
}
