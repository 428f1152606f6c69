import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Config } from './config.js';
import { unauthenticated, unavailable } from './errors.js';
import { hasServiceToken, SERVICE_TOKEN_HEADER } from './ingress.js';
import { createResilientJwks, KeySetUnavailableError } from './jwks.js';
import type { Logger } from './logger.js';
import { SessionLivenessClient } from './session-liveness-client.js';
import { subscribeThroughFailover, type Redis } from './redis.js';
import { channels } from '../contracts/redis-names.js';

/** Membership roles, strongest first. */
export const ROLES = ['OWNER', 'ADMIN', 'TRADER', 'VIEWER'] as const;
export type Role = (typeof ROLES)[number];

/** JWS algorithm of access tokens; pinned, so `alg: none` or an HMAC downgrade never verifies. */
export const ACCESS_TOKEN_ALG = 'EdDSA';

/** Claims of a verified access token. */
export interface AuthClaims {
  userId: string;
  sessionId: string;
  tenantId: string;
  role: Role;
  platformAdmin: boolean;
  email: string;
  expiresAt: number;
}

/** Checks whether a session is still live (not revoked, not expired). */
export interface SessionLiveness {
  /**
   * @returns false only when the session is known to have ended
   * @throws AppError INTERNAL_SERVER_ERROR (lib/errors `unavailable`) when that cannot be told now
   */
  isLive(sessionId: string): Promise<boolean>;
}

/**
 * Verifies access tokens: signature against auth's JWKS (cached, refetched for an unknown `kid`, the
 * last keys kept while auth is unreachable: lib/jwks), issuer, audience, expiry and the pinned
 * algorithm; then asks `sessions` whether the session is live. UNAUTHENTICATED means the token or its
 * session is bad; a check that could not be made is a retryable INTERNAL_SERVER_ERROR.
 */
export class AccessTokenVerifier {
  private readonly jwks: JWTVerifyGetKey;

  constructor(
    private readonly config: Pick<Config, 'jwksUrl' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>,
    private readonly sessions: SessionLiveness | null,
    jwks?: JWTVerifyGetKey,
  ) {
    this.jwks = jwks ?? createResilientJwks(new URL(config.jwksUrl));
  }

  /**
   * Verifies an `Authorization` header value.
   * @returns the claims, or `null` when there is no header (anonymous request)
   * @throws AppError UNAUTHENTICATED for anything malformed, expired, forged or revoked;
   *   INTERNAL_SERVER_ERROR with `retryAfter` when the keys or the session could not be checked
   */
  async verifyHeader(header: string | undefined): Promise<AuthClaims | null> {
    if (header === undefined || header === '') return null;
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match?.[1]) throw unauthenticated('Malformed Authorization header');
    return this.verifyToken(match[1]);
  }

  /** Verifies a bare access token; see {@link verifyHeader}. */
  async verifyToken(token: string): Promise<AuthClaims> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        algorithms: [ACCESS_TOKEN_ALG],
        issuer: this.config.JWT_ISSUER,
        audience: this.config.JWT_AUDIENCE,
        requiredClaims: ['sub', 'sid', 'tid', 'exp'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthenticated('Access token expired');
      if (err instanceof KeySetUnavailableError)
        throw unavailable('Could not load the token signing keys; retry');
      throw unauthenticated('Invalid access token');
    }
    const role = payload['role'];
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      throw unauthenticated('Invalid access token');
    }
    const claims: AuthClaims = {
      userId: String(payload.sub),
      sessionId: String(payload['sid']),
      tenantId: String(payload['tid']),
      role: role as Role,
      platformAdmin: payload['adm'] === true,
      email: typeof payload['email'] === 'string' ? payload['email'] : '',
      expiresAt: payload.exp ?? 0,
    };
    if (this.sessions && !(await this.sessions.isLive(claims.sessionId))) {
      throw unauthenticated('Session revoked or expired');
    }
    return claims;
  }
}

/**
 * Session liveness answered by the sessions service, cached briefly. Revocations published on
 * Redis end the session at once, on every instance that holds one of these. An end is final: a "live"
 * answer that was in flight when a revocation arrived is discarded, never cached over it (each check
 * remembers the revocation epoch it started in; see {@link settle}).
 */
export class CachedSessionLiveness implements SessionLiveness {
  /** Sessions confirmed live, each trusted for SESSION_CACHE_SECONDS. */
  private readonly live: LRUCache<string, true>;
  /** Sessions known to have ended (revoked, expired, unknown) -> the revocation epoch that ended them. */
  private readonly ended: LRUCache<string, number>;
  private readonly inFlight = new Map<string, Promise<boolean | undefined>>();
  private readonly client: SessionLivenessClient;
  /** Incremented by every end this instance learns of. */
  private epoch = 0;
  /** Highest epoch among ended entries evicted from the bounded {@link ended} map. */
  private forgottenEpoch = 0;

  /**
   * @param timeoutMs how long one check may take before the request is refused (not cached)
   * @param maxEntries bound of each map (live sessions, ended sessions)
   */
  constructor(
    config: Pick<Config, 'sessionsUrl' | 'SERVICE_TOKEN' | 'SESSION_CACHE_SECONDS'>,
    private readonly logger: Logger,
    timeoutMs = 3000,
    maxEntries = 100_000,
  ) {
    // Misses of one turn of the event loop go to the sessions service as one request.
    this.client = new SessionLivenessClient(config, timeoutMs);
    this.live = new LRUCache({ max: maxEntries, ttl: config.SESSION_CACHE_SECONDS * 1000 });
    this.ended = new LRUCache({
      max: maxEntries,
      dispose: (endedAt, _id, reason) => {
        if (reason === 'evict') this.forgottenEpoch = Math.max(this.forgottenEpoch, endedAt);
      },
    });
  }

  /** Subscribes to the revocation channel; call once with a dedicated subscriber client. */
  async listen(subscriber: Redis, redisPrefix: string): Promise<void> {
    const channel = channels.sessionRevoked(redisPrefix);
    subscriber.on('message', (ch: string, message: string) => {
      if (ch === channel) this.revoke(message.split(','));
    });
    await subscribeThroughFailover(subscriber, [channel]);
  }

  /** Records sessions as ended (what a revocation message does); final for this instance. */
  revoke(sessionIds: readonly string[]): void {
    for (const id of sessionIds) this.markEnded(id);
  }

  /** True when this instance knows the session ended (a revocation or a final answer). */
  hasEnded(sessionId: string): boolean {
    return this.ended.has(sessionId);
  }

  async isLive(sessionId: string): Promise<boolean> {
    if (this.ended.has(sessionId)) return false;
    if (this.live.get(sessionId)) return true;
    // Concurrent requests of one session share one check.
    let pending = this.inFlight.get(sessionId);
    if (!pending) {
      const startedAt = this.epoch;
      pending = this.fetch(sessionId)
        .then((answer) => this.settle(sessionId, answer, startedAt))
        .finally(() => this.inFlight.delete(sessionId));
      this.inFlight.set(sessionId, pending);
    }
    const answer = await pending;
    // Fail closed, but retryably: an unanswered check is not an ended session (a Redis failover or a
    // sessions restart must not sign anyone out; chaos run 6, docs/reliability.md).
    if (answer === undefined) throw unavailable('Could not confirm the session; retry');
    return answer;
  }

  /**
   * Applies an answer of the sessions service that was asked at epoch `startedAt`. A "live" answer may
   * predate a revocation that arrived while it was in flight: it is discarded when the session ended
   * meanwhile, or when an end newer than `startedAt` was evicted from memory (then it cannot be told).
   */
  private settle(sessionId: string, answer: boolean | undefined, startedAt: number): boolean | undefined {
    if (answer === undefined) return undefined;
    if (!answer) {
      this.markEnded(sessionId);
      return false;
    }
    if (this.ended.has(sessionId) || this.forgottenEpoch > startedAt) return false;
    this.live.set(sessionId, true);
    return true;
  }

  private markEnded(sessionId: string): void {
    this.ended.set(sessionId, ++this.epoch);
    this.live.delete(sessionId);
  }

  /** @returns the sessions service's answer, or undefined when it could not be asked (not cached). */
  private async fetch(sessionId: string): Promise<boolean | undefined> {
    try {
      return await this.client.isLive(sessionId);
    } catch (err) {
      // Fail closed for this request: a session we cannot confirm is not accepted. Nothing is cached,
      // so the next request asks again (a timeout under load must not lock a live session out).
      this.logger.warn({ err }, 'session liveness check failed');
      return undefined;
    }
  }
}

/** Constant-time check of the internal service token header (equal-length digests, see lib/ingress). */
export function isServiceCall(
  header: string | string[] | undefined,
  config: Pick<Config, 'SERVICE_TOKEN'>,
): boolean {
  return typeof header === 'string' && hasServiceToken({ [SERVICE_TOKEN_HEADER]: header }, config);
}

/** True when `role` is at least `min` (OWNER > ADMIN > TRADER > VIEWER). */
export function roleAtLeast(role: Role, min: Role): boolean {
  return ROLES.indexOf(role) <= ROLES.indexOf(min);
}
