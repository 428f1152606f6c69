import type { Redis } from '../../../lib/redis.js';

/** What happened to a session; stored in its capped event list. */
export type SessionEventKind = 'opened' | 'refreshed' | 'tenant_switched' | 'revoked' | 'reuse_detected';

/** A session as stored (times in epoch milliseconds). */
export interface SessionRecord {
  id: string;
  userId: string;
  tenantId: string;
  createdAt: number;
  lastActiveAt: number;
  expiresAt: number;
  ip: string | null;
  userAgent: string | null;
  method: string;
  revoked: boolean;
  revokedReason: string | null;
}

/** One entry of a session's event list. */
export interface SessionEventRecord {
  kind: SessionEventKind;
  at: number;
  ip: string | null;
}

/** A refresh-token rotation ({@link SessionRepository.rotate}): a refresh, or a move to another tenant. */
export interface RotationRequest {
  id: string;
  mode: 'refresh' | 'switch';
  presentedHash: string;
  newHash: string;
  now: number;
  ttlMs: number;
  /** The absolute lifetime: the new expiry is at most the session's createdAt + absoluteMs. */
  absoluteMs: number;
  event: SessionEventRecord;
  reuseEvent: SessionEventRecord;
  eventsMax: number;
  tenantId?: string | undefined;
  ip?: string | null | undefined;
  userAgent?: string | null | undefined;
}

/** Result of a liveness check. */
export type LivenessStatus =
  | { status: 'unknown' }
  | { status: 'revoked'; userId: string }
  | { status: 'live'; userId: string; touched: boolean };

/** Result of a refresh-token rotation or a tenant switch. */
export type RotationResult =
  | { kind: 'ok'; record: SessionRecord }
  | { kind: 'reuse'; userId: string }
  | { kind: 'unknown' }
  | { kind: 'revoked' };

/**
 * How many superseded refresh-token hashes a session remembers for reuse detection. Bounded so a
 * session refreshed in a loop cannot grow without limit; the oldest are forgotten first.
 */
export const PREVIOUS_REFRESH_HASHES_MAX = 1000;

// Keys (all under the service prefix `<REDIS_PREFIX>sessions:` set as ioredis keyPrefix). The `{id}`
// hash tag keeps one session's keys in one cluster slot, so the Lua scripts stay cluster-safe.
const sessionKey = (id: string): string => `s:{${id}}`;
const previousKey = (id: string): string => `s:{${id}}:prev`;
const eventsKey = (id: string): string => `s:{${id}}:ev`;
const userKey = (userId: string): string => `u:{${userId}}`;

// Sliding expiry never passes the absolute end, createdAt + absoluteMs: a session past it is unknown,
// and the new expiry (and the keys' TTL) is capped at it. %.0f keeps epoch milliseconds integral.
const CAPPED_EXPIRY = `
local function capped(createdAt, slidingEnd, absoluteMs)
  local hardEnd = tonumber(createdAt) + tonumber(absoluteMs)
  return hardEnd, math.min(tonumber(slidingEnd), hardEnd)
end
`;

// Liveness check with sliding expiry: rewrites lastActiveAt and the TTLs only when the last touch is
// older than the interval, so a busy session does not cost a write per request.
// KEYS: hash, prev, events. ARGV: now, expiresAt, ttlMs, intervalMs, absoluteMs.
const TOUCH = `${CAPPED_EXPIRY}
local h = redis.call('HMGET', KEYS[1], 'userId', 'revoked', 'lastActiveAt', 'createdAt')
if not h[1] then return {0, 0, ''} end
if h[2] == '1' then return {1, 0, h[1]} end
local now = tonumber(ARGV[1])
local hardEnd, expires = capped(h[4], ARGV[2], ARGV[5])
if now >= hardEnd then return {0, 0, ''} end
if now - tonumber(h[3]) < tonumber(ARGV[4]) then return {2, 0, h[1]} end
redis.call('HSET', KEYS[1], 'lastActiveAt', ARGV[1], 'expiresAt', string.format('%.0f', expires))
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], string.format('%.0f', expires - now)) end
return {2, 1, h[1]}
`;

// Atomic rotation: of two concurrent refreshes presenting the same token, exactly one finds it
// current; the other finds it among the previous hashes, which is reuse and revokes the session.
// A refresh never extends a session past its absolute end (see CAPPED_EXPIRY).
// KEYS: hash, prev, events.
// ARGV: 1 mode (refresh|switch), 2 presented hash, 3 new hash, 4 now, 5 expiresAt, 6 ttlMs,
//       7 event json, 8 reuse event json, 9 events max, 10 tenant id, 11 ip, 12 user agent, 13 prev max,
//       14 absoluteMs.
const ROTATE = `${CAPPED_EXPIRY}
local h = redis.call('HMGET', KEYS[1], 'userId', 'revoked', 'refreshHash', 'createdAt')
if not h[1] then return {'unknown'} end
if h[2] == '1' then return {'revoked'} end
local now = tonumber(ARGV[4])
local hardEnd, expires = capped(h[4], ARGV[5], ARGV[14])
if now >= hardEnd then return {'unknown'} end
local max = tonumber(ARGV[9])
if ARGV[1] == 'refresh' and h[3] ~= ARGV[2] then
  if redis.call('ZSCORE', KEYS[2], ARGV[2]) then
    redis.call('HSET', KEYS[1], 'revoked', '1', 'revokedReason', 'reuse_detected', 'revokedAt', ARGV[4])
    redis.call('DEL', KEYS[2])
    redis.call('LPUSH', KEYS[3], ARGV[8])
    redis.call('LTRIM', KEYS[3], 0, max - 1)
    return {'reuse', h[1]}
  end
  return {'unknown'}
end
redis.call('ZADD', KEYS[2], ARGV[4], h[3])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[13]) + 1))
redis.call('HSET', KEYS[1], 'refreshHash', ARGV[3], 'lastActiveAt', ARGV[4], 'expiresAt', string.format('%.0f', expires))
if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'tenantId', ARGV[10]) end
if ARGV[11] ~= '' then redis.call('HSET', KEYS[1], 'ip', ARGV[11]) end
if ARGV[12] ~= '' then redis.call('HSET', KEYS[1], 'userAgent', ARGV[12]) end
redis.call('LPUSH', KEYS[3], ARGV[7])
redis.call('LTRIM', KEYS[3], 0, max - 1)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], string.format('%.0f', expires - now)) end
return {'ok', redis.call('HGETALL', KEYS[1])}
`;

// Marks a session revoked (once). The record stays until its TTL so liveness answers `live: false`
// and the event list remains for audit; the superseded refresh hashes are no longer needed.
// KEYS: hash, prev, events. ARGV: reason, now, event json, events max.
const REVOKE = `
local h = redis.call('HMGET', KEYS[1], 'userId', 'revoked')
if not h[1] or h[2] == '1' then return false end
redis.call('HSET', KEYS[1], 'revoked', '1', 'revokedReason', ARGV[1], 'revokedAt', ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
return h[1]
`;

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

function toRecord(flat: string[]): SessionRecord | null {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i] as string] = flat[i + 1] as string;
  return fromHash(h);
}

function fromHash(h: Record<string, string>): SessionRecord | null {
  if (!h['id'] || !h['userId'] || !h['tenantId']) return null;
  return {
    id: h['id'],
    userId: h['userId'],
    tenantId: h['tenantId'],
    createdAt: Number(h['createdAt']),
    lastActiveAt: Number(h['lastActiveAt']),
    expiresAt: Number(h['expiresAt']),
    ip: h['ip'] ? h['ip'] : null,
    userAgent: h['userAgent'] ? h['userAgent'] : null,
    method: h['method'] ?? 'unknown',
    revoked: h['revoked'] === '1',
    revokedReason: h['revokedReason'] ? h['revokedReason'] : null,
  };
}

/** Redis storage of sessions; every multi-step change is one Lua script or one MULTI. */
export class SessionRepository {
  private readonly touchScript: ScriptFn;
  private readonly rotateScript: ScriptFn;
  private readonly revokeScript: ScriptFn;

  /** @param redis a command client whose keyPrefix is the service prefix */
  constructor(private readonly redis: Redis) {
    redis.defineCommand('sessionsTouch', { numberOfKeys: 3, lua: TOUCH });
    redis.defineCommand('sessionsRotate', { numberOfKeys: 3, lua: ROTATE });
    redis.defineCommand('sessionsRevoke', { numberOfKeys: 3, lua: REVOKE });
    // defineCommand adds methods ioredis' types cannot know about; they run EVALSHA with an EVAL fallback.
    const commands = redis as unknown as Record<string, ScriptFn>;
    this.touchScript = commands['sessionsTouch']!.bind(redis);
    this.rotateScript = commands['sessionsRotate']!.bind(redis);
    this.revokeScript = commands['sessionsRevoke']!.bind(redis);
  }

  /** Stores a new session with its first refresh hash and `opened` event, and indexes it by user. */
  async create(
    record: SessionRecord,
    refreshHash: string,
    ttlMs: number,
    event: SessionEventRecord,
    eventsMax: number,
  ) {
    const fields: Record<string, string> = {
      id: record.id,
      userId: record.userId,
      tenantId: record.tenantId,
      createdAt: String(record.createdAt),
      lastActiveAt: String(record.lastActiveAt),
      expiresAt: String(record.expiresAt),
      ip: record.ip ?? '',
      userAgent: record.userAgent ?? '',
      method: record.method,
      refreshHash,
      revoked: '0',
    };
    await this.redis
      .multi()
      .hset(sessionKey(record.id), fields)
      .pexpire(sessionKey(record.id), ttlMs)
      .lpush(eventsKey(record.id), JSON.stringify(event))
      .ltrim(eventsKey(record.id), 0, eventsMax - 1)
      .pexpire(eventsKey(record.id), ttlMs)
      .sadd(userKey(record.userId), record.id)
      // Every session's expiry is at most now + TTL, so this always covers the user's sessions.
      .pexpire(userKey(record.userId), ttlMs)
      .exec();
  }

  /** The stored session, revoked or not; null when unknown or expired. */
  async get(id: string): Promise<SessionRecord | null> {
    return fromHash(await this.redis.hgetall(sessionKey(id)));
  }

  /** Several sessions at once (missing ones are left out). */
  async getMany(ids: string[]): Promise<SessionRecord[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(sessionKey(id));
    const results = (await pipe.exec()) ?? [];
    const out: SessionRecord[] = [];
    for (const [err, value] of results) {
      if (err) throw err;
      const rec = fromHash(value as Record<string, string>);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** Liveness with sliding expiry, never past createdAt + absoluteMs; see the TOUCH script. */
  async touch(
    id: string,
    now: number,
    ttlMs: number,
    intervalMs: number,
    absoluteMs: number,
  ): Promise<LivenessStatus> {
    const [code, touched, userId] = (await this.touchScript(
      sessionKey(id),
      previousKey(id),
      eventsKey(id),
      now,
      now + ttlMs,
      ttlMs,
      intervalMs,
      absoluteMs,
    )) as [number, number, string];
    if (code === 0) return { status: 'unknown' };
    if (code === 1) return { status: 'revoked', userId };
    return { status: 'live', userId, touched: touched === 1 };
  }

  /** Rotates the refresh hash (mode `refresh` checks the presented one; `switch` also moves the tenant). */
  async rotate(opts: RotationRequest): Promise<RotationResult> {
    const reply = (await this.rotateScript(
      sessionKey(opts.id),
      previousKey(opts.id),
      eventsKey(opts.id),
      opts.mode,
      opts.presentedHash,
      opts.newHash,
      opts.now,
      opts.now + opts.ttlMs,
      opts.ttlMs,
      JSON.stringify(opts.event),
      JSON.stringify(opts.reuseEvent),
      opts.eventsMax,
      opts.tenantId ?? '',
      opts.ip ?? '',
      opts.userAgent ?? '',
      PREVIOUS_REFRESH_HASHES_MAX,
      opts.absoluteMs,
    )) as [string, ...unknown[]];
    switch (reply[0]) {
      case 'ok': {
        const record = toRecord(reply[1] as string[]);
        return record ? { kind: 'ok', record } : { kind: 'unknown' };
      }
      case 'reuse':
        return { kind: 'reuse', userId: String(reply[1]) };
      case 'revoked':
        return { kind: 'revoked' };
      default:
        return { kind: 'unknown' };
    }
  }

  /**
   * Marks a session revoked and drops it from its user's index.
   * @returns the owner's id when this call revoked it; null when unknown or already revoked
   */
  async revoke(id: string, reason: string, now: number, event: SessionEventRecord, eventsMax: number) {
    const userId = (await this.revokeScript(
      sessionKey(id),
      previousKey(id),
      eventsKey(id),
      reason,
      now,
      JSON.stringify(event),
      eventsMax,
    )) as string | null;
    if (userId) await this.redis.srem(userKey(userId), id);
    return userId;
  }

  /** Ids in a user's index (may include expired ones; callers prune with {@link forget}). */
  async sessionIdsOf(userId: string): Promise<string[]> {
    return this.redis.smembers(userKey(userId));
  }

  /** Removes ids from a user's index. */
  async forget(userId: string, ids: string[]): Promise<void> {
    if (ids.length > 0) await this.redis.srem(userKey(userId), ...ids);
  }

  /** Keeps a user's index alive as long as their most recently used session. */
  async extendUserIndex(userId: string, ttlMs: number): Promise<void> {
    await this.redis.pexpire(userKey(userId), ttlMs);
  }

  /** Most recent events first. */
  async events(id: string, first: number): Promise<SessionEventRecord[]> {
    if (first <= 0) return [];
    const raw = await this.redis.lrange(eventsKey(id), 0, first - 1);
    return raw.map((r) => JSON.parse(r) as SessionEventRecord);
  }
}
