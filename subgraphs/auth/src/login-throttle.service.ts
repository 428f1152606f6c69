import { createHash } from 'node:crypto';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { rateLimited } from '../../../lib/errors.js';
import type { Redis } from '../../../lib/redis.js';
import {
  describeWindow,
  ipThrottleKey,
  isLimiterRejection,
  throttleMessage,
} from '../../../lib/request-throttle.js';
import type { AuthConfig } from './config.js';

/** Which login limit refused an attempt; the `limit` label of `auth_limit_refusals_total`. */
export type LoginLimit = 'login_pair' | 'login_ip' | 'login_account_delay';

/** A login attempt that passed the throttle; report how it ended exactly once. */
export interface LoginAttempt {
  /** Right password: the pair starts over, the IP gets its attempt back. */
  succeeded(): Promise<void>;
  /** Wrong password or unknown account: counts against the account (progressive delay). */
  failed(): Promise<void>;
  /** The check itself failed (an outage): the attempt is given back. */
  abandon(): Promise<void>;
}

type ThrottleConfig = Pick<
  AuthConfig,
  | 'LOGIN_THROTTLE_WINDOW_SECONDS'
  | 'LOGIN_THROTTLE_PER_ACCOUNT'
  | 'LOGIN_THROTTLE_PER_IP'
  | 'LOGIN_THROTTLE_PER_ACCOUNT_IP'
  | 'LOGIN_DELAY_MAX_SECONDS'
>;

/**
 * Login throttling on Redis (rate-limiter-flexible), built so that nobody can lock a victim out:
 * - the lock is per (account, client IP) pair: failures from one source lock that source only;
 * - per client IP across accounts (password spraying);
 * - per account, progressive delays (1, 2, 4 ... LOGIN_DELAY_MAX_SECONDS) once the account has
 *   LOGIN_THROTTLE_PER_ACCOUNT failures in the window, applied only to sources that have failed on it.
 *   A source with no failure on the account (the owner's own device) is never delayed.
 * Attempts are reserved before the password is checked, so a concurrent burst cannot pass the limits.
 */
export class LoginThrottle {
  private readonly pair: RateLimiterRedis;
  private readonly ip: RateLimiterRedis;
  private readonly account: RateLimiterRedis;
  private readonly gate: RateLimiterRedis;

  /**
   * @param redis a command client whose keyPrefix is auth's prefix
   * @param onRefused counts refusals by limit (a metric)
   */
  constructor(
    redis: Redis,
    private readonly config: ThrottleConfig,
    private readonly onRefused: (limit: LoginLimit) => void = () => undefined,
  ) {
    const duration = config.LOGIN_THROTTLE_WINDOW_SECONDS;
    const limiter = (keyPrefix: string, points: number) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration });
    this.pair = limiter('throttle:pair', config.LOGIN_THROTTLE_PER_ACCOUNT_IP);
    this.ip = limiter('throttle:ip', config.LOGIN_THROTTLE_PER_IP);
    // Counts failures only (penalty never refuses); the gate key exists while the account's delay runs.
    this.account = limiter('throttle:acct', Number.MAX_SAFE_INTEGER);
    this.gate = limiter('throttle:delay', 1);
  }

  /**
   * Reserves an attempt for `email` from `ip`, before any password is checked.
   * @throws AppError RATE_LIMITED (message names the limit, `retryAfter` in seconds)
   */
  async begin(email: string, ip: string | undefined): Promise<LoginAttempt> {
    const keys = { pair: pairKey(email, ip), ip: ipKey(ip), account: accountKey(email) };
    // A read first, so refused attempts are not counted and do not extend anything.
    const [pair, byIp, gate] = await Promise.all([
      this.pair.get(keys.pair),
      this.ip.get(keys.ip),
      this.gate.get(keys.account),
    ]);
    if (byIp && byIp.consumedPoints >= this.config.LOGIN_THROTTLE_PER_IP)
      throw this.refuse('login_ip', byIp.msBeforeNext);
    if (pair && pair.consumedPoints >= this.config.LOGIN_THROTTLE_PER_ACCOUNT_IP)
      throw this.refuse('login_pair', pair.msBeforeNext);
    if (pair && pair.consumedPoints > 0 && gate && gate.msBeforeNext > 0)
      throw this.refuse('login_account_delay', gate.msBeforeNext);
    await this.reserve(this.pair, keys.pair, 'login_pair');
    try {
      await this.reserve(this.ip, keys.ip, 'login_ip');
    } catch (err) {
      await this.pair.reward(keys.pair, 1);
      throw err;
    }
    return {
      succeeded: async () => {
        await Promise.all([this.pair.delete(keys.pair), this.ip.reward(keys.ip, 1)]);
      },
      failed: async () => {
        const { consumedPoints } = await this.account.penalty(keys.account, 1);
        const over = consumedPoints - this.config.LOGIN_THROTTLE_PER_ACCOUNT;
        if (over >= 0) {
          const delay = Math.min(2 ** Math.min(over, 30), this.config.LOGIN_DELAY_MAX_SECONDS);
          await this.gate.block(keys.account, delay);
        }
      },
      abandon: async () => {
        await Promise.all([this.pair.reward(keys.pair, 1), this.ip.reward(keys.ip, 1)]);
      },
    };
  }

  private async reserve(limiter: RateLimiterRedis, key: string, limit: LoginLimit): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (err) {
      if (!isLimiterRejection(err)) throw err;
      // Lost a race with a concurrent attempt: this one is not counted.
      await limiter.reward(key, 1);
      throw this.refuse(limit, err.msBeforeNext);
    }
  }

  private refuse(limit: LoginLimit, msBeforeNext: number) {
    this.onRefused(limit);
    const c = this.config;
    const window = c.LOGIN_THROTTLE_WINDOW_SECONDS;
    switch (limit) {
      case 'login_pair':
        return rateLimited(
          msBeforeNext / 1000,
          throttleMessage(
            'failed sign-ins to this account from your address',
            c.LOGIN_THROTTLE_PER_ACCOUNT_IP,
            window,
          ),
          { limit: c.LOGIN_THROTTLE_PER_ACCOUNT_IP, windowSeconds: window },
        );
      case 'login_ip':
        return rateLimited(
          msBeforeNext / 1000,
          throttleMessage('failed sign-ins from your address', c.LOGIN_THROTTLE_PER_IP, window),
          { limit: c.LOGIN_THROTTLE_PER_IP, windowSeconds: window },
        );
      case 'login_account_delay':
        return rateLimited(
          msBeforeNext / 1000,
          `Too many failed sign-ins to this account: after ${c.LOGIN_THROTTLE_PER_ACCOUNT} per ` +
            `${describeWindow(window)}, retries from addresses that failed wait up to ` +
            `${c.LOGIN_DELAY_MAX_SECONDS} seconds`,
          { limit: c.LOGIN_THROTTLE_PER_ACCOUNT, windowSeconds: window },
        );
    }
  }
}

// Emails are hashed so Redis never holds a list of addresses people tried.
const digest = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 32);
const accountKey = (email: string): string => digest(email);
const pairKey = (email: string, ip: string | undefined): string => digest(`${email}\n${ipThrottleKey(ip)}`);
const ipKey = ipThrottleKey;
