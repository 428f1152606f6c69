/**
 * The small `KeyValueCache` interface of @apollo/utils.keyvaluecache over ioredis, used for automatic
 * persisted queries so every gateway instance shares the registered queries. Apollo Server prefixes
 * APQ keys with `apq:` itself; with the gateway client's `${REDIS_PREFIX}gateway:` key prefix a query
 * lands at `${REDIS_PREFIX}gateway:apq:<sha256>`.
 */
import type { Redis } from '../../lib/redis.js';

/** Options Apollo passes to `set` (`ttl` in seconds; `null` means no expiry). */
export interface KeyValueCacheSetOptions {
  ttl?: number | null;
}

/** Structurally the same as @apollo/utils.keyvaluecache's `KeyValueCache<string>`. */
export class RedisKeyValueCache {
  /**
   * @param redis command client (its keyPrefix applies)
   * @param defaultTtlSeconds used when Apollo gives no ttl
   */
  constructor(
    private readonly redis: Redis,
    private readonly defaultTtlSeconds: number,
  ) {}

  async get(key: string): Promise<string | undefined> {
    const value = await this.redis.get(key);
    return value ?? undefined;
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    const ttl = options?.ttl === undefined ? this.defaultTtlSeconds : options.ttl;
    if (ttl === null || ttl <= 0) await this.redis.set(key, value);
    else await this.redis.set(key, value, 'EX', Math.ceil(ttl));
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis.del(key)) > 0;
  }
}
