/**
 * Fixed-window rate limits per client IP, per user and per tenant, shared by the replicas through
 * Redis and decided in memory (window-sync.counter.ts: no Redis round trip per request). Every scope
 * that applies is counted, a refused request included (hammering does not reopen the window early);
 * the first scope over its limit, in the order ip, user, tenant, is reported. A tenant's own limits
 * (tenant-limits.ts) replace the configured user and tenant limits for its users. Each limit also
 * holds over a short burst window (RATE_LIMIT_BURST_SECONDS) at RATE_LIMIT_BURST_FACTOR times its
 * average rate: a fixed window alone lets a client spend a whole minute's allowance in its first
 * second, every minute.
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

/**
 * The burst rule of every window limit (RATE_LIMIT_BURST_*): the share of a window's limit allowed
 * per burst window (factor × burst / window), or undefined when bursts are not limited (no factor, or
 * a burst window as long as the window, which adds nothing).
 */
export function burstShare(
  config: Pick<Config, 'RATE_LIMIT_BURST_SECONDS' | 'RATE_LIMIT_BURST_FACTOR'>,
  windowSeconds: number,
): number | undefined {
  const burst = config.RATE_LIMIT_BURST_SECONDS;
  const share = (config.RATE_LIMIT_BURST_FACTOR * burst) / windowSeconds;
  return share > 0 && burst < windowSeconds ? share : undefined;
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
  | 'RATE_LIMIT_WINDOW_SECONDS'
  | 'RATE_LIMIT_PER_IP'
  | 'RATE_LIMIT_PER_USER'
  | 'RATE_LIMIT_PER_TENANT'
  | 'RATE_LIMIT_BURST_SECONDS'
  | 'RATE_LIMIT_BURST_FACTOR'
>;

/** The limiter; `windows` syncs through the gateway's command client (keyPrefix `gateway:`). */
export class RateLimiter {
  private readonly limiters: Record<RateLimitScope, WindowCounter>;
  /** The same limits over the short burst window; undefined when bursts are not limited. */
  private readonly bursts: Record<RateLimitScope, WindowCounter> | undefined;
  private readonly windowSeconds: number;
  private readonly burstSeconds: number;
  /** Burst limit per window limit: factor × burst / window. */
  private readonly burstShare: number;

  constructor(windows: WindowSync, config: RateLimitConfig) {
    this.windowSeconds = config.RATE_LIMIT_WINDOW_SECONDS;
    this.burstSeconds = config.RATE_LIMIT_BURST_SECONDS;
    const share = burstShare(config, this.windowSeconds);
    this.burstShare = share ?? 0;
    const limits: Record<RateLimitScope, number> = {
      ip: config.RATE_LIMIT_PER_IP,
      user: config.RATE_LIMIT_PER_USER,
      tenant: config.RATE_LIMIT_PER_TENANT,
    };
    const counters = (prefix: string, seconds: number, limitOf: (n: number) => number) =>
      Object.fromEntries(
        (Object.keys(limits) as RateLimitScope[]).map((scope) => [
          scope,
          windows.counter(`${prefix}:${scope}`, limitOf(limits[scope]), seconds),
        ]),
      ) as Record<RateLimitScope, WindowCounter>;
    this.limiters = counters('rl', this.windowSeconds, (n) => n);
    this.bursts =
      share === undefined ? undefined : counters('rl:burst', this.burstSeconds, (n) => this.burstLimit(n));
  }

  /** The most a key with `limit` per window may use in one burst window (at least 1). */
  burstLimit(limit: number): number {
    return Math.max(1, Math.ceil(limit * this.burstShare));
  }

  /**
   * Counts the request against every scope that applies, over the window and the burst window, and
   * says whether it may proceed.
   * @throws when the counters could not sync with Redis for a while (a store error is not a pass)
   */
  check(subject: RateLimitSubject): RateLimitResult {
    let refused: RateLimitResult | undefined;
    const count = (
      counter: WindowCounter,
      scope: RateLimitScope,
      id: string,
      limit: number,
      windowSeconds: number,
    ): void => {
      const verdict = counter.consume(id, 1, true, limit);
      if (!verdict.allowed && !refused) {
        const retryAfterSeconds = Math.max(1, Math.ceil(verdict.msBeforeNext / 1000));
        refused = { allowed: false, scope, retryAfterSeconds, limit, windowSeconds };
      }
    };
    const scope = (name: RateLimitScope, id: string, own: number | undefined): void => {
      const limit = own ?? this.limiters[name].limit;
      count(this.limiters[name], name, id, limit, this.windowSeconds);
      if (this.bursts) count(this.bursts[name], name, id, this.burstLimit(limit), this.burstSeconds);
    };
    scope('ip', subject.ip, undefined);
    if (subject.userId) scope('user', subject.userId, subject.limits?.user);
    if (subject.tenantId) scope('tenant', subject.tenantId, subject.limits?.tenant);
    return refused ?? { allowed: true };
  }
}
