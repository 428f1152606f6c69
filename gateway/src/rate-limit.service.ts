/**
 * Fixed-window rate limits in Redis, per client IP, per user and per tenant, checked in one atomic
 * Lua call per request (one round trip whatever the number of scopes).
 */
import type { Config } from '../../lib/config.js';
import type { Redis } from '../../lib/redis.js';

/** What a limit is counted against. */
export type RateLimitScope = 'ip' | 'user' | 'tenant';

/** The verdict for one request. */
export type RateLimitResult =
  { allowed: true } | { allowed: false; scope: RateLimitScope; retryAfterSeconds: number };

/**
 * KEYS: one counter per scope; ARGV[1]: window in ms; ARGV[2..]: the limit of each key.
 * Every counter is incremented (a refused request still counts, so hammering does not reopen the
 * window early); the first key over its limit is reported with its remaining time.
 */
const SCRIPT = `
local window = tonumber(ARGV[1])
local over = 0
local overTtl = 0
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl
  if count == 1 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  else
    ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, window)
      ttl = window
    end
  end
  if over == 0 and count > tonumber(ARGV[i + 1]) then
    over = i
    overTtl = ttl
  end
end
return {over, overTtl}
`;

interface LimitedRedis extends Redis {
  gatewayRateLimit(...args: (string | number)[]): Promise<[number, number]>;
}

/** Who is asking; user and tenant are known only for a verified token. */
export interface RateLimitSubject {
  ip: string;
  userId?: string | undefined;
  tenantId?: string | undefined;
}

/** Redis-backed limiter; `redis` is a command client whose keyPrefix already ends in `gateway:`. */
export class RateLimiter {
  private readonly redis: LimitedRedis;

  constructor(
    redis: Redis,
    private readonly config: Pick<
      Config,
      'RATE_LIMIT_WINDOW_SECONDS' | 'RATE_LIMIT_PER_IP' | 'RATE_LIMIT_PER_USER' | 'RATE_LIMIT_PER_TENANT'
    >,
  ) {
    // defineCommand runs EVALSHA and falls back to EVAL once after a SCRIPT FLUSH or a restart.
    if (!('gatewayRateLimit' in redis)) redis.defineCommand('gatewayRateLimit', { lua: SCRIPT });
    this.redis = redis as LimitedRedis;
  }

  /** Counts the request against every scope that applies and says whether it may proceed. */
  async check(subject: RateLimitSubject): Promise<RateLimitResult> {
    const scopes: [RateLimitScope, string, number][] = [['ip', subject.ip, this.config.RATE_LIMIT_PER_IP]];
    if (subject.userId) scopes.push(['user', subject.userId, this.config.RATE_LIMIT_PER_USER]);
    if (subject.tenantId) scopes.push(['tenant', subject.tenantId, this.config.RATE_LIMIT_PER_TENANT]);
    const windowMs = this.config.RATE_LIMIT_WINDOW_SECONDS * 1000;
    const keys = scopes.map(([scope, id]) => `rl:${scope}:${id}`);
    const [over, ttlMs] = await this.redis.gatewayRateLimit(
      keys.length,
      ...keys,
      windowMs,
      ...scopes.map(([, , limit]) => limit),
    );
    const hit = over > 0 ? scopes[over - 1] : undefined;
    if (!hit) return { allowed: true };
    return { allowed: false, scope: hit[0], retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) };
  }
}
