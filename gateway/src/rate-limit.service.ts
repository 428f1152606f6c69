/**
 * Fixed-window rate limits in Redis (rate-limiter-flexible), per client IP, per user and per tenant.
 * Every scope that applies is counted, a refused request included (hammering does not reopen the
 * window early); the first scope over its limit, in the order ip, user, tenant, is reported.
 */
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { Config } from '../../lib/config.js';
import type { Redis } from '../../lib/redis.js';
import { isLimiterRejection } from '../../lib/request-throttle.js';

/** What a limit is counted against. */
export type RateLimitScope = 'ip' | 'user' | 'tenant';

/** The verdict for one request. */
export type RateLimitResult =
  { allowed: true } | { allowed: false; scope: RateLimitScope; retryAfterSeconds: number };

/** Who is asking; user and tenant are known only for a verified token. */
export interface RateLimitSubject {
  ip: string;
  userId?: string | undefined;
  tenantId?: string | undefined;
}

type RateLimitConfig = Pick<
  Config,
  'RATE_LIMIT_WINDOW_SECONDS' | 'RATE_LIMIT_PER_IP' | 'RATE_LIMIT_PER_USER' | 'RATE_LIMIT_PER_TENANT'
>;

/** Redis-backed limiter; `redis` is a command client whose keyPrefix already ends in `gateway:`. */
export class RateLimiter {
  private readonly limiters: Record<RateLimitScope, RateLimiterRedis>;

  constructor(redis: Redis, config: RateLimitConfig) {
    const limiter = (scope: RateLimitScope, points: number): RateLimiterRedis =>
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `rl:${scope}`,
        points,
        duration: config.RATE_LIMIT_WINDOW_SECONDS,
      });
    this.limiters = {
      ip: limiter('ip', config.RATE_LIMIT_PER_IP),
      user: limiter('user', config.RATE_LIMIT_PER_USER),
      tenant: limiter('tenant', config.RATE_LIMIT_PER_TENANT),
    };
  }

  /** Counts the request against every scope that applies and says whether it may proceed. */
  async check(subject: RateLimitSubject): Promise<RateLimitResult> {
    const scopes: [RateLimitScope, string][] = [['ip', subject.ip]];
    if (subject.userId) scopes.push(['user', subject.userId]);
    if (subject.tenantId) scopes.push(['tenant', subject.tenantId]);
    const outcomes = await Promise.allSettled(scopes.map(([scope, id]) => this.limiters[scope].consume(id)));
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') continue;
      // A store error is not a pass: it propagates and the request is refused.
      if (!isLimiterRejection(outcome.reason)) throw outcome.reason;
      return {
        allowed: false,
        scope: scopes[i]![0],
        retryAfterSeconds: Math.max(1, Math.ceil(outcome.reason.msBeforeNext / 1000)),
      };
    }
    return { allowed: true };
  }
}
