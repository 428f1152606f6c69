/**
 * Fixed-window throttles on Redis (rate-limiter-flexible) for costly anonymous or per-IP actions:
 * registration, tenant creation, login. A refusal is RATE_LIMITED with a message naming the limit
 * and `retryAfter`. A Redis failure is not a pass: the error propagates and the action is refused.
 */
import { isIPv6 } from 'node:net';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { rateLimited } from './errors.js';
import type { Redis } from './redis.js';

/** Options of {@link RequestThrottle}. */
export interface RequestThrottleOptions {
  /** Key prefix of the counters (appended to the client's own keyPrefix), e.g. `rl:register-ip`. */
  keyPrefix: string;
  /** Attempts allowed per window. */
  points: number;
  windowSeconds: number;
  /** What is counted, plural, for the refusal message (e.g. "registrations per IP address"). */
  what: string;
  /** Called on every refusal (a metric). */
  onRefused?: () => void;
}

/** "15 minutes", "hour", "2 hours", "90 seconds": how a window reads in a refusal message. */
export function describeWindow(seconds: number): string {
  if (seconds % 3600 === 0) return seconds === 3600 ? 'hour' : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? 'minute' : `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

/** The refusal message of a throttle: names the limit and its value. */
export function throttleMessage(what: string, points: number, windowSeconds: number): string {
  return `Too many ${what}: the limit is ${points} per ${describeWindow(windowSeconds)}`;
}

/** True for rate-limiter-flexible's "over the limit" rejection (anything else is a store error). */
export function isLimiterRejection(err: unknown): err is RateLimiterRes {
  return err instanceof RateLimiterRes;
}

/**
 * The key a client address is throttled under: an IPv4 address as is (also when IPv4-mapped), an
 * IPv6 address by its /64 prefix, since one subscriber usually holds a whole /64 and could otherwise
 * rotate through it. Unknown: `unknown` (one shared key, which fails closed).
 */
export function ipThrottleKey(ip: string | undefined): string {
  if (ip === undefined || ip === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const addr = ip.split('%')[0]!.toLowerCase();
  const [head = '', tail] = addr.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // "::" stands for as many zero groups as make eight.
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** One counted action per key (an IP address, a user) in a fixed window. */
export class RequestThrottle {
  readonly limiter: RateLimiterRedis;

  /** @param redis a command client (its keyPrefix, if any, is prepended to `keyPrefix`) */
  constructor(
    redis: Redis,
    private readonly opts: RequestThrottleOptions,
  ) {
    this.limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: opts.keyPrefix,
      points: opts.points,
      duration: opts.windowSeconds,
    });
  }

  /** The refusal message, naming the limit. */
  get message(): string {
    return throttleMessage(this.opts.what, this.opts.points, this.opts.windowSeconds);
  }

  /**
   * Counts one attempt for `key`.
   * @throws AppError RATE_LIMITED (with `retryAfter` and `limit`) when the window's allowance is spent
   */
  async consume(key: string): Promise<void> {
    try {
      await this.limiter.consume(key);
    } catch (err) {
      if (!isLimiterRejection(err)) throw err;
      this.opts.onRefused?.();
      throw rateLimited(err.msBeforeNext / 1000, this.message, {
        limit: this.opts.points,
        windowSeconds: this.opts.windowSeconds,
      });
    }
  }
}
