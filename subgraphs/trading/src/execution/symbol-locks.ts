/**
 * Which replica's engine owns a symbol: lib's leases, one per symbol (`trading:engine:<SYMBOL>`, value =
 * the replica's token). The database re-checks every fill under row locks, so even two engines briefly
 * processing one symbol cannot fill an order twice (and a tick is applied to an order at most once).
 */
import { RedisLeases } from '../../../../lib/redis-lease.js';
import type { Redis } from '../../../../lib/redis.js';
import { tradingKeys } from '../events/trading.channels.js';

export class SymbolLocks extends RedisLeases {
  /** @param redis command client (its keyPrefix applies) */
  constructor(redis: Redis, token: string, ttlMs: number, now: () => number = Date.now) {
    super(redis, { token, ttlMs, now, keyOf: tradingKeys.engineLock });
  }
}
