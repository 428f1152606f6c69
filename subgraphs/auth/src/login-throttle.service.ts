import { createHash } from 'node:crypto';
import type { Config } from '../../../lib/config.js';
import { rateLimited } from '../../../lib/errors.js';
import type { Redis } from '../../../lib/redis.js';

// Counts failures in a fixed window per key; the first failure starts the window.
// KEYS: account, ip. ARGV: window seconds.
const RECORD_FAILURE = `
for i = 1, 2 do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 or redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
end
return 1
`;

/**
 * Login throttling in Redis, per account and per client IP: after `LOGIN_THROTTLE_PER_ACCOUNT`
 * failures for one email (or `LOGIN_THROTTLE_PER_IP` from one IP) within the window, attempts are
 * refused with RATE_LIMITED and the seconds until the window ends, before any password is checked.
 * A successful login clears the account's counter (not the IP's).
 */
export class LoginThrottle {
  private readonly recordScript: (...args: (string | number)[]) => Promise<unknown>;

  /** @param redis a command client whose keyPrefix is auth's prefix */
  constructor(
    private readonly redis: Redis,
    private readonly config: Pick<
      Config,
      'LOGIN_THROTTLE_WINDOW_SECONDS' | 'LOGIN_THROTTLE_PER_ACCOUNT' | 'LOGIN_THROTTLE_PER_IP'
    >,
  ) {
    redis.defineCommand('authThrottleFailure', { numberOfKeys: 2, lua: RECORD_FAILURE });
    // defineCommand adds a method ioredis' types cannot know about.
    const commands = redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>;
    this.recordScript = commands['authThrottleFailure']!.bind(redis);
  }

  /**
   * Refuses the attempt when either counter is over its limit.
   * @throws AppError RATE_LIMITED with `retryAfter` (seconds)
   */
  async check(email: string, ip: string | undefined): Promise<void> {
    const [account, byIp] = [accountKey(email), ipKey(ip)];
    const res = await this.redis.multi().get(account).ttl(account).get(byIp).ttl(byIp).exec();
    const value = (i: number): number => Number(res?.[i]?.[1] ?? 0);
    const waits: number[] = [];
    if (value(0) >= this.config.LOGIN_THROTTLE_PER_ACCOUNT) waits.push(value(1));
    if (value(2) >= this.config.LOGIN_THROTTLE_PER_IP) waits.push(value(3));
    if (waits.length > 0) {
      throw rateLimited(
        Math.max(1, ...waits.map((w) => (w > 0 ? w : this.config.LOGIN_THROTTLE_WINDOW_SECONDS))),
      );
    }
  }

  /** Counts a failed attempt against the account and the IP. */
  async recordFailure(email: string, ip: string | undefined): Promise<void> {
    await this.recordScript(accountKey(email), ipKey(ip), this.config.LOGIN_THROTTLE_WINDOW_SECONDS);
  }

  /** Clears the account's counter after a successful login. */
  async recordSuccess(email: string): Promise<void> {
    await this.redis.del(accountKey(email));
  }
}

// Emails are hashed so Redis never holds a list of addresses people tried.
function accountKey(email: string): string {
  return `throttle:acct:${createHash('sha256').update(email).digest('hex').slice(0, 32)}`;
}

function ipKey(ip: string | undefined): string {
  return `throttle:ip:${ip ?? 'unknown'}`;
}
