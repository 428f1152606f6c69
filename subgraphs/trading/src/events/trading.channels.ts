/**
 * Redis names of the trading subgraph. Pub/sub channels carry the full prefix (ioredis' keyPrefix does
 * not apply to channels); keys are relative to REDIS_PREFIX (the command client's keyPrefix).
 *
 * Channels are per tenant and account: a subscription listens to the channel built from the caller's
 * verified tenant id, so events of another tenant are never even delivered to its process-local queue.
 */
import { sharedKeys } from '../../../../contracts/redis-names.js';

export const tradingChannels = {
  orders: (prefix: string, tenantId: string, accountId: string): string =>
    `${prefix}trading:orders:${tenantId}:${accountId}`,
  trades: (prefix: string, tenantId: string, accountId: string): string =>
    `${prefix}trading:trades:${tenantId}:${accountId}`,
  /** Resting orders announced to the replica whose engine owns their symbol. */
  book: (prefix: string): string => `${prefix}trading:book`,
} as const;

/**
 * Keys relative to REDIS_PREFIX. The real-time cache (positions, last trade, account) expires
 * TRADING_REALTIME_CACHE_TTL_SECONDS after its last write: a missing key means "not cached", and the
 * GraphQL queries are the source of truth.
 */
export const tradingKeys = {
  /** Stream of every trade: a shared contract, named in contracts/redis-names. */
  tradeStream: sharedKeys.tradeStream,
  /** Hash symbol -> position JSON of one account (the real-time cache). */
  positions: (tenantId: string, accountId: string): string => `trading:positions:${tenantId}:${accountId}`,
  /** Last trade of one account (JSON). */
  lastTrade: (tenantId: string, accountId: string): string => `trading:last-trade:${tenantId}:${accountId}`,
  /** Cash, reserved cash and trading state of one account (hash). */
  account: (tenantId: string, accountId: string): string => `trading:account:${tenantId}:${accountId}`,
  /** Symbol ownership lease of the execution engine. */
  engineLock: (symbol: string): string => `trading:engine:${symbol}`,
} as const;
