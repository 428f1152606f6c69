import type { Redis } from '../../../../lib/redis.js';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * A lease in Redis: `SET key token NX PX ttl`, renewed only by its holder, released only by its
 * holder (compare-and-delete in Lua). The holder also keeps a local deadline: when renewals fail (Redis
 * unreachable) it considers itself no longer leader once the lease could have expired, so two
 * replicas never both believe they lead for longer than clock drift.
 */
export class LeaderLock {
  private leaseUntil = 0;

  /**
   * @param redis command client (its keyPrefix applies to `key`)
   * @param token unique id of this contender
   */
  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly token: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True while this contender holds an unexpired lease (as far as it can tell locally). */
  get held(): boolean {
    return this.now() < this.leaseUntil;
  }

  /** Tries to take the lease; true when taken (or already held). */
  async acquire(): Promise<boolean> {
    const started = this.now();
    const ok = await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX');
    if (ok === 'OK') {
      // Counted from before the request: the lease cannot have been granted earlier than that.
      this.leaseUntil = started + this.ttlMs;
      return true;
    }
    return this.renew();
  }

  /** Extends the lease; false when it is no longer ours. */
  async renew(): Promise<boolean> {
    const started = this.now();
    const ok = (await this.redis.eval(RENEW, 1, this.key, this.token, String(this.ttlMs))) as number;
    if (ok === 1) {
      this.leaseUntil = started + this.ttlMs;
      return true;
    }
    this.leaseUntil = 0;
    return false;
  }

  /** Gives the lease up at once (so a follower takes over without waiting for the TTL). */
  async release(): Promise<void> {
    this.leaseUntil = 0;
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }

  /** Forgets the lease locally without touching Redis (a crashed holder; tests). */
  abandon(): void {
    this.leaseUntil = 0;
  }
}
