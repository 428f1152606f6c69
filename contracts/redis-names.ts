/**
 * Redis names that cross a service boundary, each owned by its producer and listing its consumers.
 * A service's private keys stay in its own module (trading's `trading.channels.ts`); only names
 * another process reads or writes live here. Keys are relative to REDIS_PREFIX (a command client
 * created with that keyPrefix); channels take the prefix as an argument, since ioredis' keyPrefix
 * does not apply to pub/sub.
 */

/** Pub/sub channels shared between services. */
export const channels = {
  /** Producer: sessions. Consumers: lib/auth (token liveness cache), lib/ws-server, the gateway. */
  sessionRevoked: (prefix: string): string => `${prefix}sessions:revoked`,
  /**
   * Price ticks of one symbol ({@link ./market-tick.ts}). Producer: market-data's feed. Consumers:
   * market-data's subscriptions, trading's execution engine and quote book.
   */
  marketTicks: (prefix: string, symbol: string): string => `${prefix}market:ticks:${symbol}`,
  /**
   * A tenant's request limits changed (the message is the tenant id). Producer: tenants
   * (`setTenantLimits`, after its commit). Consumer: the gateway's tenant-limits cache.
   */
  tenantLimitsChanged: (prefix: string): string => `${prefix}tenants:limits-changed`,
} as const;

/** Keys shared between services, relative to REDIS_PREFIX. */
export const sharedKeys = {
  /**
   * Hash symbol -> latest tick ({@link ./market-tick.ts} encoding). Producer: market-data's tick
   * publisher (written atomically with each publish). Consumers: trading's quote book, analytics.
   */
  marketQuotes: 'market:quotes',
  /**
   * Stream of every trade (XADD, trimmed approximately). Producer: trading's publisher. Consumer:
   * analytics' trade-stream consumer group (`subgraphs/analytics/src/trade-event.ts` decodes it).
   */
  tradeStream: 'trading:trades',
} as const;

/**
 * A shared key relative to a service's own keyPrefix namespace (e.g. market-data's client is
 * prefixed `<REDIS_PREFIX>market:`), or an error at start when the key is not in that namespace.
 */
export function keyWithin(namespace: string, key: string): string {
  if (!key.startsWith(namespace)) throw new Error(`Redis key ${key} is not under ${namespace}`);
  return key.slice(namespace.length);
}
