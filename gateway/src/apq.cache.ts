/**
 * The store of automatic persisted queries (Apollo's `KeyValueCache` interface): bounded by entries
 * and bytes with least-recently-used eviction, because the Redis it lives in also holds sessions and
 * jobs and runs `noeviction` (a full Redis would refuse those writes). Each gateway keeps an
 * in-process LRU copy in front; Redis is shared by every instance. Under the gateway client's prefix:
 * `apq:queries` (hash: Apollo's key -> query), `apq:lru` (sorted set: key -> last use, ms) and
 * `apq:bytes` (bytes of stored queries), changed together by one Lua script per write, which also
 * drops entries unused for longer than the TTL.
 */
import { LRUCache } from 'lru-cache';
import type { Redis } from '../../lib/redis.js';

/** KEYS: queries, lru, bytes. ARGV: key, query, now ms, max entries, max bytes, ttl ms. Returns evictions. */
const SET = `
local size = string.len(ARGV[2])
if size > tonumber(ARGV[5]) then return -1 end
local previous = redis.call('HSTRLEN', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local bytes = redis.call('INCRBY', KEYS[3], size - previous)
local count = redis.call('ZCARD', KEYS[2])
local cutoff = tonumber(ARGV[3]) - tonumber(ARGV[6])
local evicted = 0
while true do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if #oldest == 0 then break end
  if count <= tonumber(ARGV[4]) and bytes <= tonumber(ARGV[5]) and tonumber(oldest[2]) >= cutoff then break end
  local len = redis.call('HSTRLEN', KEYS[1], oldest[1])
  redis.call('HDEL', KEYS[1], oldest[1])
  redis.call('ZREM', KEYS[2], oldest[1])
  bytes = redis.call('DECRBY', KEYS[3], len)
  count = count - 1
  evicted = evicted + 1
end
return evicted
`;

/** KEYS: queries, lru. ARGV: key, now ms, ttl ms. The query (its last use refreshed), or nil. */
const GET = `
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) < tonumber(ARGV[2]) - tonumber(ARGV[3]) then return false end
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[1])
return redis.call('HGET', KEYS[1], ARGV[1])
`;

/** KEYS: queries, lru, bytes. ARGV: key. 1 when it was stored. */
const DELETE = `
local len = redis.call('HSTRLEN', KEYS[1], ARGV[1])
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DECRBY', KEYS[3], len)
return 1
`;

const KEYS = ['apq:queries', 'apq:lru', 'apq:bytes'] as const;

interface ApqRedis extends Redis {
  apqSet(...args: (string | number)[]): Promise<number>;
  apqGet(...args: (string | number)[]): Promise<string | null>;
  apqDelete(...args: (string | number)[]): Promise<number>;
}

/** Bounds of the store; the same bounds apply to the in-process copy. */
export interface ApqLimits {
  maxEntries: number;
  maxBytes: number;
  /** Entries unused for this long are dropped. */
  ttlSeconds: number;
}

/** Options Apollo passes to `set` (its APQ ttl; the store applies its own). */
export interface KeyValueCacheSetOptions {
  ttl?: number | null;
}

/**
 * A local hit refreshes the entry's last use in Redis at most this often (the first hit after a
 * registration always does), so the shared LRU order follows use without a write per request.
 */
const TOUCH_INTERVAL_MS = 1000;

interface LocalEntry {
  query: string;
  touchedAt: number;
}

/** Structurally @apollo/utils.keyvaluecache's `KeyValueCache<string>`. */
export class BoundedApqCache {
  private readonly redis: ApqRedis;
  private readonly local: LRUCache<string, LocalEntry>;

  /** @param redis the gateway's command client (its keyPrefix applies) */
  constructor(
    redis: Redis,
    private readonly limits: ApqLimits,
  ) {
    // defineCommand runs EVALSHA and falls back to EVAL once after a SCRIPT FLUSH or a restart.
    if (!('apqSet' in redis)) {
      redis.defineCommand('apqSet', { numberOfKeys: 3, lua: SET });
      redis.defineCommand('apqGet', { numberOfKeys: 2, lua: GET });
      redis.defineCommand('apqDelete', { numberOfKeys: 3, lua: DELETE });
    }
    this.redis = redis as ApqRedis;
    this.local = new LRUCache<string, LocalEntry>({
      max: limits.maxEntries,
      maxSize: limits.maxBytes,
      sizeCalculation: (e) => Math.max(1, Buffer.byteLength(e.query)),
      ttl: limits.ttlSeconds * 1000,
    });
  }

  async get(key: string): Promise<string | undefined> {
    const now = Date.now();
    const local = this.local.get(key);
    if (local) {
      if (now - local.touchedAt > TOUCH_INTERVAL_MS) {
        local.touchedAt = now;
        // Sent on the same connection before any later write, so the order holds; a lost touch costs nothing.
        this.redis.apqGet(KEYS[0], KEYS[1], key, now, this.ttlMs).catch(() => undefined);
      }
      return local.query;
    }
    const query = await this.redis.apqGet(KEYS[0], KEYS[1], key, now, this.ttlMs);
    if (query === null) return undefined;
    this.local.set(key, { query, touchedAt: now });
    return query;
  }

  async set(key: string, value: string, _options?: KeyValueCacheSetOptions): Promise<void> {
    const now = Date.now();
    const { maxEntries, maxBytes } = this.limits;
    const stored = await this.redis.apqSet(...KEYS, key, value, now, maxEntries, maxBytes, this.ttlMs);
    if (stored >= 0) this.local.set(key, { query: value, touchedAt: 0 });
  }

  async delete(key: string): Promise<boolean> {
    this.local.delete(key);
    return (await this.redis.apqDelete(...KEYS, key)) > 0;
  }

  private get ttlMs(): number {
    return this.limits.ttlSeconds * 1000;
  }
}
