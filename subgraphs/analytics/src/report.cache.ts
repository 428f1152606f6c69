import type { Redis } from '../../../lib/redis.js';
import type { AnalyticsMetrics } from './analytics.metrics.js';

/**
 * Reports cached in Redis under the analytics prefix (the client's keyPrefix) for a TTL (5 minutes by
 * default). Every key of an account embeds the account's generation number; a trade of the account
 * increments it, so every cached variant (any from/to) of that account is invalidated at once
 * without scanning keys, and the stale entries simply expire.
 */
export class ReportCache {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    private readonly metrics: AnalyticsMetrics,
  ) {}

  private genKey(tenantId: string, accountId: string): string {
    return `gen:${tenantId}:${accountId}`;
  }

  /**
   * The cached value of `variant`, or the result of `compute` (then cached). Cache failures are
   * counted and fall through to computing: Redis being down must not fail a report.
   */
  async getOrCompute<T>(
    tenantId: string,
    accountId: string,
    variant: string,
    compute: () => Promise<T>,
  ): Promise<T> {
    let key: string | undefined;
    try {
      const gen = (await this.redis.get(this.genKey(tenantId, accountId))) ?? '0';
      key = `report:${tenantId}:${accountId}:${gen}:${variant}`;
      const hit = await this.redis.get(key);
      if (hit !== null) {
        this.metrics.cacheRequests.inc({ result: 'hit' });
        return JSON.parse(hit) as T;
      }
      this.metrics.cacheRequests.inc({ result: 'miss' });
    } catch {
      this.metrics.cacheRequests.inc({ result: 'error' });
    }
    const value = await compute();
    if (key !== undefined) {
      await this.redis.set(key, JSON.stringify(value), 'EX', this.ttlSeconds).catch(() => undefined);
    }
    return value;
  }

  /** Invalidates every cached report of an account (called when a trade of it arrives). */
  async invalidate(tenantId: string, accountId: string): Promise<void> {
    const key = this.genKey(tenantId, accountId);
    // The generation outlives every report key by far, so an expired generation restarting at 1
    // can never meet a report cached under an old 1.
    await this.redis.multi().incr(key).expire(key, 86_400).exec();
  }
}
