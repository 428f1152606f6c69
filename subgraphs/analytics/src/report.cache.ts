import type { Redis } from '../../../lib/redis.js';
import type { AnalyticsMetrics } from './analytics.metrics.js';

/**
 * Reports cached in Redis under the analytics prefix (the client's keyPrefix) for a TTL (5 minutes by
 * default). Each account has a generation number, incremented by every trade of the account; a cached
 * report is stored as `<generation>|<JSON>` under `report:<tenant>:<account>:<variant>` and counts
 * only while its generation is the account's current one. So a trade invalidates every cached variant
 * (any from/to) of the account at once without scanning keys, a report computed from data read
 * before a trade can never be served after it (it carries the older generation), and a hit costs one
 * round trip: MGET of the generation and the report.
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
    const key = `report:${tenantId}:${accountId}:${variant}`;
    let gen: string | undefined;
    try {
      const [current, cached] = await this.redis.mget(this.genKey(tenantId, accountId), key);
      gen = current ?? '0';
      const sep = cached?.indexOf('|') ?? -1;
      if (cached && sep > 0 && cached.slice(0, sep) === gen) {
        this.metrics.cacheRequests.inc({ result: 'hit' });
        return JSON.parse(cached.slice(sep + 1)) as T;
      }
      this.metrics.cacheRequests.inc({ result: 'miss' });
    } catch {
      this.metrics.cacheRequests.inc({ result: 'error' });
    }
    // The generation was read before compute() reads anything: a trade arriving meanwhile bumps it,
    // and this value, stored under the older generation, is never served.
    const value = await compute();
    if (gen !== undefined) {
      await this.redis
        .set(key, `${gen}|${JSON.stringify(value)}`, 'EX', this.ttlSeconds)
        .catch(() => undefined);
    }
    return value;
  }

  /** Invalidates every cached report of an account (called when a trade of it arrives). */
  async invalidate(tenantId: string, accountId: string): Promise<void> {
    await this.invalidateMany(tenantId, [accountId]);
  }

  /** Invalidates every cached report of several accounts of a tenant, in one round trip. */
  async invalidateMany(tenantId: string, accountIds: readonly string[]): Promise<void> {
    if (accountIds.length === 0) return;
    const tx = this.redis.multi();
    for (const accountId of accountIds) {
      const key = this.genKey(tenantId, accountId);
      // The generation outlives every report key by far, so an expired generation restarting at 1
      // can never meet a report cached under an old 1.
      tx.incr(key).expire(key, 86_400);
    }
    await tx.exec();
  }
}
