/**
 * Leases in Redis, one key per leased name (value = the holder's token, `PX` TTL), for work that one
 * replica at a time may do. Claims and renewals of many names are one script call. The holder keeps a
 * local deadline (the TTL counted from before the call), so when Redis is unreachable it lets go
 * before another replica can take over. Fencing: the token is the fencing value; a write that must not
 * happen without the lease checks `GET key == token` atomically with itself.
 */
import type { Redis } from './redis.js';

// ARGV[1] token, ARGV[2] ttl ms, ARGV[3] '1' to take free keys. Per key: renew when ours, take when
// free (if asked), else leave it. Returns 1/0 per key.
const CLAIM = `
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('get', key)
  if v == ARGV[1] then
    redis.call('pexpire', key, ARGV[2])
    out[i] = 1
  elseif not v and ARGV[3] == '1' then
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

/** Options of {@link RedisLeases}. */
export interface RedisLeaseOptions {
  /** Unique id of this holder (the fencing value). */
  token: string;
  ttlMs: number;
  /**
   * The Redis key of a leased name (relative to the client's keyPrefix).
   * @default the name itself
   */
  keyOf?: (name: string) => string;
  /**
   * Clock, epoch milliseconds.
   * @default Date.now
   */
  now?: () => number;
}

/** Leases on many names held by one token. */
export class RedisLeases {
  readonly token: string;
  private readonly deadlines = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly keyOf: (name: string) => string;
  private readonly now: () => number;

  /** @param redis command client (its keyPrefix applies to the keys) */
  constructor(
    private readonly redis: Redis,
    options: RedisLeaseOptions,
  ) {
    this.token = options.token;
    this.ttlMs = options.ttlMs;
    this.keyOf = options.keyOf ?? ((name) => name);
    this.now = options.now ?? Date.now;
  }

  /** True while this holder has an unexpired lease on `name` (as far as it can tell locally). */
  holds(name: string): boolean {
    return (this.deadlines.get(name) ?? 0) > this.now();
  }

  /**
   * Takes the free names and renews those already held.
   * @returns the names held after the call
   */
  claim(names: readonly string[]): Promise<Set<string>> {
    return this.run(names, true);
  }

  /**
   * Renews the names still held; a lost or expired one is not taken again.
   * @returns the names held after the call
   */
  renew(names: readonly string[]): Promise<Set<string>> {
    return this.run(names, false);
  }

  /** Gives the names up at once (a successor takes over without waiting for the TTL). */
  async release(names: readonly string[]): Promise<void> {
    for (const n of names) this.deadlines.delete(n);
    if (names.length === 0) return;
    const keys = names.map(this.keyOf);
    await this.redis.eval(RELEASE, keys.length, ...keys, this.token);
  }

  /** Forgets every lease locally without touching Redis (a crash, as others see it; a lost Redis). */
  abandon(): void {
    this.deadlines.clear();
  }

  private async run(names: readonly string[], take: boolean): Promise<Set<string>> {
    const held = new Set<string>();
    if (names.length === 0) return held;
    const started = this.now();
    const keys = names.map(this.keyOf);
    const args = [this.token, String(this.ttlMs), take ? '1' : '0'];
    const result = (await this.redis.eval(CLAIM, keys.length, ...keys, ...args)) as number[];
    names.forEach((n, i) => {
      if (result[i] === 1) {
        this.deadlines.set(n, started + this.ttlMs);
        held.add(n);
      } else {
        this.deadlines.delete(n);
      }
    });
    return held;
  }
}

/** One lease (a leader): {@link RedisLeases} on a single key. */
export class RedisLease {
  private readonly leases: RedisLeases;

  /** @param redis command client (its keyPrefix applies to `key`) */
  constructor(
    redis: Redis,
    readonly key: string,
    options: Omit<RedisLeaseOptions, 'keyOf'>,
  ) {
    this.leases = new RedisLeases(redis, options);
  }

  get token(): string {
    return this.leases.token;
  }

  /** True while this holder has an unexpired lease (as far as it can tell locally). */
  get held(): boolean {
    return this.leases.holds(this.key);
  }

  /** Takes the lease when free, renews it when held; true when held after the call. */
  async acquire(): Promise<boolean> {
    return (await this.leases.claim([this.key])).size === 1;
  }

  /** Extends the lease; false when it is no longer ours. */
  async renew(): Promise<boolean> {
    return (await this.leases.renew([this.key])).size === 1;
  }

  /** Gives the lease up at once. */
  release(): Promise<void> {
    return this.leases.release([this.key]);
  }

  /** Forgets the lease locally without touching Redis. */
  abandon(): void {
    this.leases.abandon();
  }
}
