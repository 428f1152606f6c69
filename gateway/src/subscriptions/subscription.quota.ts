/**
 * Live-subscription caps per user and per client IP, shared by every gateway replica through Redis.
 * Each subject is one hash: a field per gateway with its count, and `<gateway>:exp` with the time that
 * count stops being believed. A gateway refreshes its expiries (and rewrites its counts) on a
 * heartbeat, so the counts of a gateway that died without releasing expire instead of leaking: the
 * next acquire on that subject drops them. No library covers counted leases; the one script is here.
 */
import { randomUUID } from 'node:crypto';
import { quotaExceeded } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import type { Redis } from '../../../lib/redis.js';

/** A cap counted across replicas. */
export type QuotaLimit = 'per_user' | 'per_ip';

/** What one live subscription counts against. */
export interface QuotaSubject {
  userId: string;
  ip: string;
}

/** Options of {@link SubscriptionQuota}. */
export interface SubscriptionQuotaOptions {
  /** A command client (its keyPrefix namespaces the keys). */
  redis: Redis;
  maxPerUser: number;
  maxPerIp: number;
  logger: Logger;
  /**
   * How long a gateway's counts are believed without a heartbeat.
   * @default 30000
   */
  leaseMs?: number;
  /**
   * Identity of this gateway process in the hashes.
   * @default a random UUID
   */
  gatewayId?: string;
  /**
   * What is counted, for a second set of caps on a subset of subscriptions: named in the keys, the
   * refusal's `limit` (`<kind>_per_user`) and its message.
   * @default 'subscriptions'
   */
  kind?: string;
}

// KEYS: subject hashes. ARGV: gateway id, lease ms, then the limit of each key.
// Returns 0 when counted against every key, else the 1-based index of the first key at its limit.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gw = ARGV[1]
local lease = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local flat = redis.call('HGETALL', key)
  local h = {}
  for j = 1, #flat, 2 do h[flat[j]] = flat[j + 1] end
  local total = 0
  for f, v in pairs(h) do
    if string.sub(f, -4) ~= ':exp' then
      local exp = tonumber(h[f .. ':exp'] or '0')
      if f ~= gw and exp < now then
        redis.call('HDEL', key, f, f .. ':exp')
      else
        total = total + tonumber(v)
      end
    end
  end
  if total >= tonumber(ARGV[2 + i]) then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, gw, 1)
  redis.call('HSET', key, gw .. ':exp', now + lease)
  if redis.call('PTTL', key) < lease then redis.call('PEXPIRE', key, lease) end
end
return 0
`;

// KEYS: subject hashes. ARGV: gateway id.
const RELEASE = `
for _, key in ipairs(KEYS) do
  if redis.call('HINCRBY', key, ARGV[1], -1) <= 0 then redis.call('HDEL', key, ARGV[1], ARGV[1] .. ':exp') end
end
return 0
`;

// KEYS[1]: a subject hash. ARGV: gateway id, lease ms, this gateway's count ('' to keep the stored one).
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
if ARGV[3] == '0' then
  redis.call('HDEL', KEYS[1], ARGV[1], ARGV[1] .. ':exp')
  return 0
end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
redis.call('HSET', KEYS[1], ARGV[1] .. ':exp', now + lease)
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return 0
`;

interface QuotaRedis extends Redis {
  subsQuotaAcquire(...args: (string | number)[]): Promise<number>;
  subsQuotaRelease(...args: (string | number)[]): Promise<number>;
  subsQuotaHeartbeat(...args: (string | number)[]): Promise<number>;
}

interface Held {
  count: number;
  /** Acquires and releases of this key not yet answered: the heartbeat then leaves the count alone. */
  inFlight: number;
}

/**
 * Caps on live subscriptions per user and per IP across gateway replicas; see the module comment.
 * `acquire` before a subscription starts, `release` once when it ends, `start`/`stop` the heartbeat.
 */
export class SubscriptionQuota {
  readonly gatewayId: string;
  private readonly redis: QuotaRedis;
  private readonly leaseMs: number;
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SubscriptionQuotaOptions) {
    this.gatewayId = opts.gatewayId ?? randomUUID();
    this.leaseMs = opts.leaseMs ?? 30_000;
    const r = opts.redis;
    if (!('subsQuotaAcquire' in r)) {
      r.defineCommand('subsQuotaAcquire', { lua: ACQUIRE });
      r.defineCommand('subsQuotaRelease', { lua: RELEASE });
      r.defineCommand('subsQuotaHeartbeat', { lua: HEARTBEAT });
    }
    this.redis = r as QuotaRedis;
  }

  /** Starts the heartbeat (three beats per lease, so one lost beat does not expire live counts). */
  start(): void {
    this.timer ??= setInterval(() => void this.heartbeat(), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  /** Stops the heartbeat; counts still held expire after the lease (what a crash leaves behind too). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Counts one live subscription against the user's and the IP's caps, or neither.
   * @throws AppError QUOTA_EXCEEDED naming the cap (waiting does not free room, so no retryAfter)
   */
  async acquire(subject: QuotaSubject): Promise<void> {
    const keys = this.keysOf(subject);
    // What this gateway holds alone is part of every replica's total: at a cap here, the script
    // would refuse too, so a client beyond its cap costs no round trip to Redis.
    let over = this.overHere(keys);
    if (over === 0) {
      for (const k of keys) this.entry(k).inFlight++;
      try {
        over = await this.redis.subsQuotaAcquire(
          keys.length,
          ...keys,
          this.gatewayId,
          this.leaseMs,
          this.opts.maxPerUser,
          this.opts.maxPerIp,
        );
        if (over === 0) for (const k of keys) this.entry(k).count++;
      } finally {
        for (const k of keys) this.settle(k);
      }
    }
    const kind = this.opts.kind ?? 'subscriptions';
    const what = kind === 'subscriptions' ? 'Live subscriptions' : `Live ${kind.replace(/_/g, ' ')}`;
    if (over === 1) {
      throw quotaExceeded(`${what} per user exceed the limit of ${this.opts.maxPerUser}`, {
        limit: `${kind}_per_user`,
        max: this.opts.maxPerUser,
      });
    }
    if (over === 2) {
      throw quotaExceeded(`${what} per client IP exceed the limit of ${this.opts.maxPerIp}`, {
        limit: `${kind}_per_ip`,
        max: this.opts.maxPerIp,
      });
    }
  }

  /** Gives back what one successful {@link acquire} counted. A failure is corrected by the next heartbeat. */
  async release(subject: QuotaSubject): Promise<void> {
    const keys = this.keysOf(subject);
    for (const k of keys) {
      const e = this.entry(k);
      e.count = Math.max(0, e.count - 1);
      e.inFlight++;
    }
    try {
      await this.redis.subsQuotaRelease(keys.length, ...keys, this.gatewayId);
    } catch (err) {
      this.opts.logger.warn({ err }, 'subscription quota release failed; the heartbeat corrects it');
    } finally {
      for (const k of keys) this.settle(k);
    }
  }

  /** Refreshes this gateway's leases and rewrites its counts from what it holds. */
  async heartbeat(): Promise<void> {
    const beats = [...this.held].map(async ([key, e]) => {
      // A count with an answer pending could be overwritten by a stale value; only the expiry moves then.
      const count = e.inFlight > 0 ? '' : String(e.count);
      if (e.count === 0 && e.inFlight === 0) this.held.delete(key);
      await this.redis.subsQuotaHeartbeat(1, key, this.gatewayId, this.leaseMs, count);
    });
    const results = await Promise.allSettled(beats);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) this.opts.logger.warn({ err: failed.reason }, 'subscription quota heartbeat failed');
  }

  /** 1 or 2 when this gateway alone holds the user's or the IP's cap (counts it has been answered for), else 0. */
  private overHere(keys: [string, string]): number {
    if ((this.held.get(keys[0])?.count ?? 0) >= this.opts.maxPerUser) return 1;
    if ((this.held.get(keys[1])?.count ?? 0) >= this.opts.maxPerIp) return 2;
    return 0;
  }

  private keysOf(subject: QuotaSubject): [string, string] {
    const ns = this.opts.kind && this.opts.kind !== 'subscriptions' ? `${this.opts.kind}:` : '';
    return [`subs:${ns}user:${subject.userId}`, `subs:${ns}ip:${subject.ip}`];
  }

  private entry(key: string): Held {
    let e = this.held.get(key);
    if (!e) {
      e = { count: 0, inFlight: 0 };
      this.held.set(key, e);
    }
    return e;
  }

  private settle(key: string): void {
    const e = this.entry(key);
    e.inFlight--;
  }
}
