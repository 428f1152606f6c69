import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { PROJECT_ROOT, type Config } from './config.js';
import type { Logger } from './logger.js';

export type { Redis } from 'ioredis';

/** The role a connection plays; each role gets its own client (a subscriber cannot run commands). */
export type RedisRole = 'commands' | 'subscriber' | 'bullmq';

/** What a connection needs to know about where Redis is: one URL, or the sentinels of a primary. */
export type RedisTarget = Pick<
  Config,
  'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_SENTINEL_NAME' | 'REDIS_SENTINEL_TLS' | 'REDIS_TLS_CA_PATH'
>;

const caCache = new Map<string, string>();
function readCa(file: string): string {
  const abs = path.resolve(PROJECT_ROOT, file);
  let pem = caCache.get(abs);
  if (pem === undefined) {
    pem = readFileSync(abs, 'utf8');
    caCache.set(abs, pem);
  }
  return pem;
}

/**
 * Where to connect, as ioredis options: the TLS settings of a `rediss:` URL (verified against
 * REDIS_TLS_CA_PATH, never unverified), and with REDIS_SENTINELS the sentinels instead of a fixed host.
 * After a failover the old primary answers writes with READONLY; reconnecting asks the sentinels again.
 */
export function redisTargetOptions(config: RedisTarget): RedisOptions {
  const url = new URL(config.REDIS_URL);
  const tls = url.protocol === 'rediss:' ? tlsOptions(config) : undefined;
  if (config.REDIS_SENTINELS.length === 0) return tls ? { tls } : {};
  const db = Number(url.pathname.replace(/^\//, '') || '0');
  return {
    sentinels: config.REDIS_SENTINELS.map((entry) => {
      const [host = '', port = ''] = entry.split(':');
      return { host, port: Number(port) };
    }),
    name: config.REDIS_SENTINEL_NAME,
    db: Number.isInteger(db) ? db : 0,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    // ioredis' names: enableTLSForSentinelMode + tls are the data nodes, sentinelTLS the sentinels.
    ...(tls ? { tls, enableTLSForSentinelMode: true } : {}),
    ...(config.REDIS_SENTINEL_TLS ? { sentinelTLS: tlsOptions(config) } : {}),
    // No `failoverDetector`: with it (ioredis 5.11), clients reconnecting when +switch-master arrived
    // stayed closed for good; the retry strategy asks the sentinels again within 2 s anyway.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    // A promotion takes a few seconds: retry often enough to reach the new primary soon after it.
    retryStrategy: (times) => Math.min(times * 100, 500),
  };
}

function tlsOptions(config: RedisTarget): NonNullable<RedisOptions['tls']> {
  return config.REDIS_TLS_CA_PATH ? { ca: readCa(config.REDIS_TLS_CA_PATH) } : {};
}

/**
 * A Redis client for one role. Command clients use `keyPrefix` so every key carries the
 * service's prefix; BullMQ connections must not (BullMQ has its own `prefix`) and need
 * `maxRetriesPerRequest: null`.
 * @param prefix per-service (or per-test) prefix, e.g. `ts:sessions:`
 * @param tuning extra ioredis options for a hot path (e.g. `enableAutoPipelining`), and the service's
 *   logger for the client's connection errors ({@link logConnectionErrors})
 */
export function createRedis(
  config: RedisTarget,
  role: RedisRole,
  prefix?: string,
  tuning: Pick<RedisOptions, 'enableAutoPipelining'> & { logger?: Logger } = {},
): Redis {
  const { logger, ...ioredisTuning } = tuning;
  const options: RedisOptions = {
    lazyConnect: false,
    // A subscriber skips the ready check: ioredis (5.11) sends CLIENT SETINFO, awaits it, then INFO; a
    // SUBSCRIBE issued meanwhile is written at once (it may run while Redis loads) and puts the
    // connection in subscriber mode, so the INFO fails and the client reports a fatal error.
    enableReadyCheck: role !== 'subscriber',
    maxRetriesPerRequest: role === 'bullmq' ? null : 3,
    connectionName: `tradesage-${role}`,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...ioredisTuning,
  };
  if (role === 'commands' && prefix) options.keyPrefix = prefix;
  const client =
    config.REDIS_SENTINELS.length > 0
      ? new Redis({ ...options, ...redisTargetOptions(config) })
      : new Redis(config.REDIS_URL, { ...options, ...redisTargetOptions(config) });
  if (logger) logConnectionErrors(client, logger, role);
  return client;
}

/** How often one client logs its connection errors while they go on. */
const CONNECTION_ERROR_LOG_MS = 10_000;

/**
 * Logs a client's connection errors through the service's logger, one line per 10 s with the count,
 * and one when it is ready again. Without an `error` listener ioredis writes "[ioredis] Unhandled
 * error event" and the stack to stderr on every failed reconnect, outside the JSON logs (a Redis
 * failover printed dozens per service). Commands still fail on their own promises; this is only the
 * connection's story.
 */
export function logConnectionErrors(client: Redis, logger: Logger, role: RedisRole): void {
  let failing = 0;
  let loggedAt = 0;
  client.on('error', (err: Error) => {
    failing++;
    const now = Date.now();
    if (now - loggedAt < CONNECTION_ERROR_LOG_MS) return;
    loggedAt = now;
    logger.warn({ role, errors: failing, err: { message: err.message } }, 'redis connection failing');
  });
  client.on('ready', () => {
    if (failing === 0) return;
    logger.info({ role, errors: failing }, 'redis connection ready again');
    failing = 0;
    loggedAt = 0;
  });
}

/** True when Redis answers PING. */
export async function pingRedis(redis: Redis): Promise<boolean> {
  try {
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  }
}

/** How long {@link throughFailover} keeps trying, by default: several Sentinel failovers (3-4 s each). */
export const SUBSCRIBE_WITHIN_MS = 30_000;

/**
 * A command a service's start waits for, retried through a Redis failover. A command fails after a
 * few reconnect attempts (`maxRetriesPerRequest`, under a second while the dead primary refuses
 * connections), and services run such commands while they start, after their HTTP server is up: a
 * gateway restarted just before the primary was killed failed its start and exited (chaos run 7,
 * docs/reliability.md). Not `maxRetriesPerRequest: null` on those clients: a command while stopping
 * would then wait for Redis without bound.
 * @throws the last error once `withinMs` has passed, or at once when the client was closed
 */
export async function throughFailover<T>(
  client: Redis,
  command: () => Promise<T>,
  withinMs = SUBSCRIBE_WITHIN_MS,
): Promise<T> {
  const until = Date.now() + withinMs;
  for (;;) {
    try {
      return await command();
    } catch (err) {
      if (Date.now() >= until || client.status === 'end') throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/**
 * SUBSCRIBE that waits through a Redis failover ({@link throughFailover}). ioredis re-subscribes by
 * itself after later reconnects; only the first SUBSCRIBE needs this.
 */
export function subscribeThroughFailover(
  subscriber: Redis,
  channels: readonly string[],
  withinMs = SUBSCRIBE_WITHIN_MS,
): Promise<void> {
  return throughFailover(subscriber, () => subscriber.subscribe(...channels).then(() => undefined), withinMs);
}
