import { randomUUID } from 'node:crypto';
import { badInput, notFound, unauthenticated } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { type Redis } from '../../../lib/redis.js';
import { channels } from '../../../contracts/redis-names.js';
import type { SessionsConfig } from './config.js';
import { hashRefreshToken, isSessionId, newRefreshToken, sessionIdOfRefreshToken } from './refresh-token.js';
import type {
  RotationRequest,
  SessionEventRecord,
  SessionRecord,
  SessionRepository,
} from './session.repository.js';
import type { SessionsMetrics } from './sessions.metrics.js';

/** A session as resolvers see it (the `Session` GraphQL type maps to this). */
export interface SessionView {
  id: string;
  userId: string;
  tenantId: string;
  createdAt: Date;
  lastActiveAt: Date;
  expiresAt: Date;
  ipAddress: string | null;
  userAgent: string | null;
  method: string;
  revoked: boolean;
}

/** One session event as resolvers see it. */
export interface SessionEventView {
  kind: string;
  at: Date;
  ipAddress: string | null;
}

/** What `openSession`, `rotateRefreshToken` and `switchSessionTenant` return to auth. */
export interface SessionGrant {
  sessionId: string;
  userId: string;
  tenantId: string;
  refreshToken: string;
  expiresAt: Date;
}

/** Why a session ended; the `reason` label of `sessions_revoked_total`. */
export type RevocationReason = 'logout' | 'user' | 'user_all' | 'reuse_detected' | 'session_cap';

/** Answer of a liveness check: unknown sessions are 404 on the internal endpoint. */
export type Liveness = 'live' | 'revoked' | 'unknown';

const METHODS = new Set(['password', 'oidc', 'register']);
const MAX_USER_AGENT = 512;
const MAX_IP = 64;

function view(r: SessionRecord): SessionView {
  return {
    id: r.id,
    userId: r.userId,
    tenantId: r.tenantId,
    createdAt: new Date(r.createdAt),
    lastActiveAt: new Date(r.lastActiveAt),
    expiresAt: new Date(r.expiresAt),
    ipAddress: r.ip,
    userAgent: r.userAgent,
    method: r.method,
    revoked: r.revoked,
  };
}

function clip(value: string | null | undefined, max: number): string | null {
  if (value === null || value === undefined || value === '') return null;
  return value.slice(0, max);
}

/**
 * Session rules: opening, sliding liveness, refresh-token rotation with reuse detection, tenant
 * switches and revocation. Every revocation is published so verifiers evict their caches at once.
 * A session ends at the latest `SESSION_ABSOLUTE_TTL_SECONDS` after it opened, however it is used;
 * a user keeps at most `SESSIONS_MAX_PER_USER` live sessions: signing in once more revokes the least
 * recently active one (refusing would lock the user out of a new device over sessions they forgot).
 */
export class SessionService {
  private readonly ttlMs: number;
  private readonly absoluteMs: number;
  private readonly maxPerUser: number;
  private readonly touchMs: number;
  private readonly eventsMax: number;
  private readonly channel: string;

  constructor(
    private readonly repo: SessionRepository,
    private readonly publisher: Redis,
    config: Pick<
      SessionsConfig,
      | 'SESSION_TTL_SECONDS'
      | 'SESSION_ABSOLUTE_TTL_SECONDS'
      | 'SESSIONS_MAX_PER_USER'
      | 'SESSION_TOUCH_INTERVAL_SECONDS'
      | 'SESSION_EVENTS_MAX'
      | 'REDIS_PREFIX'
    >,
    private readonly metrics: SessionsMetrics,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.ttlMs = config.SESSION_TTL_SECONDS * 1000;
    this.absoluteMs = config.SESSION_ABSOLUTE_TTL_SECONDS * 1000;
    this.maxPerUser = config.SESSIONS_MAX_PER_USER;
    this.touchMs = config.SESSION_TOUCH_INTERVAL_SECONDS * 1000;
    this.eventsMax = config.SESSION_EVENTS_MAX;
    this.channel = channels.sessionRevoked(config.REDIS_PREFIX);
  }

  /**
   * Opens a session for a user in a tenant and returns its first refresh token. Past
   * `SESSIONS_MAX_PER_USER`, the user's least recently active other sessions are revoked.
   */
  async open(input: {
    userId: string;
    tenantId: string;
    method: string;
    ipAddress?: string | null | undefined;
    userAgent?: string | null | undefined;
  }): Promise<SessionGrant> {
    if (!METHODS.has(input.method)) throw badInput(`Unknown session method: ${input.method}`);
    if (input.userId === '' || input.tenantId === '') throw badInput('userId and tenantId are required');
    const now = this.now();
    const id = randomUUID();
    const ip = clip(input.ipAddress, MAX_IP);
    const firstTtlMs = Math.min(this.ttlMs, this.absoluteMs);
    const record: SessionRecord = {
      id,
      userId: input.userId,
      tenantId: input.tenantId,
      createdAt: now,
      lastActiveAt: now,
      expiresAt: now + firstTtlMs,
      ip,
      userAgent: clip(input.userAgent, MAX_USER_AGENT),
      method: input.method,
      revoked: false,
      revokedReason: null,
    };
    const refresh = newRefreshToken(id);
    await this.repo.create(record, refresh.hash, firstTtlMs, { kind: 'opened', at: now, ip }, this.eventsMax);
    this.metrics.opened.inc({ method: input.method });
    // The new session is valid whatever happens here; a cap not enforced now is enforced at the next sign-in.
    await this.enforcePerUserCap(record.userId, id, ip).catch((err: unknown) => {
      this.logger.warn({ err, userId: record.userId }, 'could not enforce the sessions-per-user cap');
    });
    return {
      sessionId: id,
      userId: record.userId,
      tenantId: record.tenantId,
      refreshToken: refresh.token,
      expiresAt: new Date(record.expiresAt),
    };
  }

  /**
   * Exchanges a refresh token for a new one. A superseded token means it leaked (or a client raced
   * itself): the session is revoked, which logs out whoever holds the newer token too.
   * @throws UNAUTHENTICATED for unknown, revoked, expired or reused tokens
   */
  async rotate(
    refreshToken: string,
    ipAddress?: string | null,
    userAgent?: string | null,
  ): Promise<SessionGrant> {
    const id = sessionIdOfRefreshToken(refreshToken);
    if (!id) throw unauthenticated('Invalid refresh token');
    const now = this.now();
    const ip = clip(ipAddress, MAX_IP);
    const newToken = newRefreshToken(id);
    const result = await this.repo.rotate({
      ...this.rotation(now, ip),
      id,
      mode: 'refresh',
      presentedHash: hashRefreshToken(refreshToken),
      newHash: newToken.hash,
      event: { kind: 'refreshed', at: now, ip },
      userAgent: clip(userAgent, MAX_USER_AGENT),
    });
    switch (result.kind) {
      case 'ok':
        await this.repo.extendUserIndex(result.record.userId, this.ttlMs);
        return this.grant(result.record, newToken.token);
      case 'reuse':
        this.metrics.reuseDetected.inc();
        this.metrics.revoked.inc({ reason: 'reuse_detected' });
        this.logger.warn(
          { sessionId: id, userId: result.userId, ip },
          'refresh token reuse detected; session revoked',
        );
        await this.repo.forget(result.userId, [id]);
        await this.publish([id]);
        throw unauthenticated('Refresh token reused; the session has been revoked');
      case 'revoked':
      case 'unknown':
        throw unauthenticated('Invalid refresh token');
    }
  }

  /** Moves a live session to another tenant (auth checked the membership) and rotates its refresh token. */
  async switchTenant(sessionId: string, tenantId: string, ipAddress?: string | null): Promise<SessionGrant> {
    if (!isSessionId(sessionId)) throw unauthenticated('Session revoked or expired');
    if (tenantId === '') throw badInput('tenantId is required');
    const now = this.now();
    const ip = clip(ipAddress, MAX_IP);
    const newToken = newRefreshToken(sessionId);
    const result = await this.repo.rotate({
      ...this.rotation(now, ip),
      id: sessionId,
      mode: 'switch',
      presentedHash: '',
      newHash: newToken.hash,
      event: { kind: 'tenant_switched', at: now, ip },
      tenantId,
    });
    if (result.kind !== 'ok') throw unauthenticated('Session revoked or expired');
    await this.repo.extendUserIndex(result.record.userId, this.ttlMs);
    return this.grant(result.record, newToken.token);
  }

  /** What a refresh and a tenant switch pass alike to the repository's rotation. */
  private rotation(
    now: number,
    ip: string | null,
  ): Pick<RotationRequest, 'now' | 'ttlMs' | 'absoluteMs' | 'reuseEvent' | 'eventsMax' | 'ip'> {
    const reuseEvent = { kind: 'reuse_detected', at: now, ip } as const;
    return { now, ttlMs: this.ttlMs, absoluteMs: this.absoluteMs, reuseEvent, eventsMax: this.eventsMax, ip };
  }

  /** Ends a session (logout); true when it was live. */
  async end(sessionId: string, ipAddress?: string | null): Promise<boolean> {
    if (!isSessionId(sessionId)) return false;
    return (await this.revoke([sessionId], 'logout', clip(ipAddress, MAX_IP))) > 0;
  }

  /**
   * Revokes one of the caller's own sessions.
   * @throws NOT_FOUND when the session is not the caller's, unknown, or already ended
   */
  async revokeOwn(userId: string, sessionId: string, ipAddress?: string | null): Promise<boolean> {
    const rec = isSessionId(sessionId) ? await this.repo.get(sessionId) : null;
    // Someone else's session answers exactly like a missing one, so ids cannot be probed.
    if (!rec || rec.userId !== userId || rec.revoked) throw notFound('Session');
    if ((await this.revoke([sessionId], 'user', clip(ipAddress, MAX_IP))) === 0) throw notFound('Session');
    return true;
  }

  /** Revokes every live session of a user; returns how many were revoked. */
  async revokeAll(userId: string, ipAddress?: string | null): Promise<number> {
    const ids = await this.repo.sessionIdsOf(userId);
    return this.revoke(ids, 'user_all', clip(ipAddress, MAX_IP));
  }

  /** The live sessions of `userId` among `ids` (its index); forgets the others from the index. */
  private async liveAmong(userId: string, ids: string[]): Promise<SessionRecord[]> {
    const live = (await this.repo.getMany(ids)).filter((r) => !r.revoked && r.userId === userId);
    const liveIds = new Set(live.map((r) => r.id));
    await this.repo.forget(
      userId,
      ids.filter((id) => !liveIds.has(id)),
    );
    return live;
  }

  /** The user's live sessions, most recently active first; prunes expired ids from the index. */
  async listLive(userId: string): Promise<SessionView[]> {
    const ids = await this.repo.sessionIdsOf(userId);
    const live = await this.liveAmong(userId, ids);
    return live.sort((a, b) => b.lastActiveAt - a.lastActiveAt).map(view);
  }

  /** One session (revoked ones included); null when unknown or expired. */
  async get(sessionId: string): Promise<SessionView | null> {
    if (!isSessionId(sessionId)) return null;
    const rec = await this.repo.get(sessionId);
    return rec ? view(rec) : null;
  }

  /** Most recent events of a session. */
  async events(sessionId: string, first: number): Promise<SessionEventView[]> {
    const n = Math.max(0, Math.min(first, this.eventsMax));
    const events = await this.repo.events(sessionId, n);
    return events.map((e: SessionEventRecord) => ({ kind: e.kind, at: new Date(e.at), ipAddress: e.ip }));
  }

  /** Liveness for verifiers; a verified use slides the expiry (at most one write per touch interval). */
  async liveness(sessionId: string): Promise<Liveness> {
    if (!isSessionId(sessionId)) return 'unknown';
    const result = await this.repo.touch(sessionId, this.now(), this.ttlMs, this.touchMs, this.absoluteMs);
    if (result.status === 'live' && result.touched)
      await this.repo.extendUserIndex(result.userId, this.ttlMs);
    return result.status;
  }

  /**
   * Revokes the user's least recently active sessions beyond the cap, never `keepId` (just opened).
   * Two concurrent sign-ins may each revoke one; the count still ends at or under the cap.
   */
  private async enforcePerUserCap(userId: string, keepId: string, ip: string | null): Promise<void> {
    const ids = await this.repo.sessionIdsOf(userId);
    if (ids.length <= this.maxPerUser) return;
    const live = await this.liveAmong(userId, ids);
    const excess = live.length - this.maxPerUser;
    if (excess <= 0) return;
    const oldest = live
      .filter((r) => r.id !== keepId)
      .sort((a, b) => a.lastActiveAt - b.lastActiveAt || a.createdAt - b.createdAt)
      .slice(0, excess)
      .map((r) => r.id);
    await this.revoke(oldest, 'session_cap', ip);
  }

  private grant(r: SessionRecord, refreshToken: string): SessionGrant {
    return {
      sessionId: r.id,
      userId: r.userId,
      tenantId: r.tenantId,
      refreshToken,
      expiresAt: new Date(r.expiresAt),
    };
  }

  private async revoke(ids: string[], reason: RevocationReason, ip: string | null): Promise<number> {
    const now = this.now();
    const revoked: string[] = [];
    for (const id of ids) {
      const owner = await this.repo.revoke(id, reason, now, { kind: 'revoked', at: now, ip }, this.eventsMax);
      if (owner) revoked.push(id);
    }
    if (revoked.length > 0) {
      this.metrics.revoked.inc({ reason }, revoked.length);
      await this.publish(revoked);
    }
    return revoked.length;
  }

  private async publish(ids: string[]): Promise<void> {
    // Comma-separated, as lib/auth CachedSessionLiveness expects; chunked to keep messages small.
    for (let i = 0; i < ids.length; i += 500) {
      await this.publisher.publish(this.channel, ids.slice(i, i + 500).join(','));
    }
  }
}
