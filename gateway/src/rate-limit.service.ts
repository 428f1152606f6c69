/**
 * Fixed-window rate limits per client IP, per user and per tenant, shared by the replicas through
 * Redis and decided in memory (window-sync.counter.ts: no Redis round trip per request). Every scope
 * that applies is counted, a refused request included (hammering does not reopen the window early);
 * the first scope over its limit, in the order ip, user, tenant, is reported. A tenant's own limits
 * (tenant-limits.ts) replace the configured user and tenant limits for its users.
 */
import type { Config } from '../../lib/config.js';
import { rateLimited, type AppError } from '../../lib/errors.js';
import type { WindowCounter, WindowSync } from './window-sync.counter.js';

/** What a limit is counted against. */
export type RateLimitScope = 'ip' | 'user' | 'tenant';

/** The verdict for one request. */
export type RateLimitResult =
  | { allowed: true }
  | {
      allowed: false;
      scope: RateLimitScope;
      retryAfterSeconds: number;
      limit: number;
      windowSeconds: number;
    };

/** The answer to a refused request: RATE_LIMITED naming the limit, with `retryAfter`. */
export function rateLimitError(verdict: Extract<RateLimitResult, { allowed: false }>): AppError {
  const { scope, limit, windowSeconds } = verdict;
  return rateLimited(
    verdict.retryAfterSeconds,
    `Request rate limit per ${scope === 'ip' ? 'client IP' : scope} reached (${limit} per ${windowSeconds} s)`,
    { limit: `requests_per_${scope}`, max: limit, windowSeconds },
  );
}

/** Who is asking; user and tenant are known only for a verified token. */
export interface RateLimitSubject {
  ip: string;
  userId?: string | undefined;
  tenantId?: string | undefined;
  /** The tenant's own limits per window (tenant-limits.ts), else the configured ones. */
  limits?: { user: number; tenant: number } | undefined;
}

type RateLimitConfig = Pick<
  Config,
  'RATE_LIMIT_WINDOW_SECONDS' | 'RATE_LIMIT_PER_IP' | 'RATE_LIMIT_PER_USER' | 'RATE_LIMIT_PER_TENANT'
>;

/** The limiter; `windows` syncs through the gateway's command client (keyPrefix `gateway:`). */
export class RateLimiter {
  private readonly limiters: Record<RateLimitScope, WindowCounter>;
  private readonly windowSeconds: number;

  constructor(windows: WindowSync, config: RateLimitConfig) {
    this.windowSeconds = config.RATE_LIMIT_WINDOW_SECONDS;
    const limiter = (scope: RateLimitScope, points: number): WindowCounter =>
      windows.counter(`rl:${scope}`, points, config.RATE_LIMIT_WINDOW_SECONDS);
    this.limiters = {
      ip: limiter('ip', config.RATE_LIMIT_PER_IP),
      user: limiter('user', config.RATE_LIMIT_PER_USER),
      tenant: limiter('tenant', config.RATE_LIMIT_PER_TENANT),
    };
  }

  /**
   * Counts the request against every scope that applies and says whether it may proceed.
   * @throws when the counters could not sync with Redis for a while (a store error is not a pass)
   */
  check(subject: RateLimitSubject): RateLimitResult {
    let refused: RateLimitResult | undefined;
    const count = (scope: RateLimitScope, id: string, limit?: number): void => {
      const counter = this.limiters[scope];
      const verdict = counter.consume(id, 1, true, limit);
      if (!verdict.allowed && !refused) {
        const retryAfterSeconds = Math.max(1, Math.ceil(verdict.msBeforeNext / 1000));
        const windowSeconds = this.windowSeconds;
        refused = { allowed: false, scope, retryAfterSeconds, limit: limit ?? counter.limit, windowSeconds };
      }
    };
    count('ip', subject.ip);
    if (subject.userId) count('user', subject.userId, subject.limits?.user);
    if (subject.tenantId) count('tenant', subject.tenantId, subject.limits?.tenant);
    return refused ?? { allowed: true };
  }
}
