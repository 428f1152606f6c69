import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';

export type { Redis } from 'ioredis';

/** The role a connection plays; each role gets its own client (a subscriber cannot run commands). */
export type RedisRole = 'commands' | 'subscriber' | 'bullmq';

/**
 * A Redis client for one role. Command clients use `keyPrefix` so every key carries the
 * service's prefix; BullMQ connections must not (BullMQ has its own `prefix`) and need
 * `maxRetriesPerRequest: null`.
 * @param prefix per-service (or per-test) prefix, e.g. `ts:sessions:`
 * @param tuning extra ioredis options for a hot path (e.g. `enableAutoPipelining`)
 */
export function createRedis(
  config: Pick<Config, 'REDIS_URL'>,
  role: RedisRole,
  prefix?: string,
  tuning: Pick<RedisOptions, 'enableAutoPipelining'> = {},
): Redis {
  const options: RedisOptions = {
    lazyConnect: false,
    // A subscriber skips the ready check: ioredis (5.11) sends CLIENT SETINFO, awaits it, then INFO; a
    // SUBSCRIBE issued meanwhile is written at once (it may run while Redis loads) and puts the
    // connection in subscriber mode, so the INFO fails and the client reports a fatal error.
    enableReadyCheck: role !== 'subscriber',
    maxRetriesPerRequest: role === 'bullmq' ? null : 3,
    connectionName: `tradesage-${role}`,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...tuning,
  };
  if (role === 'commands' && prefix) options.keyPrefix = prefix;
  return new Redis(config.REDIS_URL, options);
}

/** True when Redis answers PING. */
export async function pingRedis(redis: Redis): Promise<boolean> {
  try {
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  }
}
