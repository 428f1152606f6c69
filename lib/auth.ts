import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Config } from './config.js';
import { unauthenticated } from './errors.js';
import { hasServiceToken, SERVICE_TOKEN_HEADER } from './ingress.js';
import type { Logger } from './logger.js';
import { channels, type Redis } from './redis.js';

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
  isLive(sessionId: string): Promise<boolean>;
}

/**
 * Verifies access tokens: signature against auth's JWKS (cached, refetched for an unknown `kid`),
 * issuer, audience, expiry and the pinned algorithm; then asks `sessions` whether the session is live.
 */
export class AccessTokenVerifier {
  private readonly jwks: JWTVerifyGetKey;

  constructor(
    private readonly config: Pick<Config, 'jwksUrl' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>,
    private readonly sessions: SessionLiveness | null,
    jwks?: JWTVerifyGetKey,
  ) {
    this.jwks =
      jwks ??
      createRemoteJWKSet(new URL(config.jwksUrl), { cacheMaxAge: 10 * 60_000, cooldownDuration: 5_000 });
  }

  /**
   * Verifies an `Authorization` header value.
   * @returns the claims, or `null` when there is no header (anonymous request)
   * @throws AppError UNAUTHENTICATED for anything malformed, expired, forged or revoked
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
 * Redis evict the cache at once, on every instance that holds one of these.
 */
export class CachedSessionLiveness implements SessionLiveness {
  private readonly cache = new Map<string, { live: boolean; until: number }>();
  private readonly inFlight = new Map<string, Promise<boolean | undefined>>();
  private readonly maxEntries = 100_000;

  /**
   * @param timeoutMs how long one check may take before the request is refused (not cached)
   */
  constructor(
    private readonly config: Pick<Config, 'sessionsUrl' | 'SERVICE_TOKEN' | 'SESSION_CACHE_SECONDS'>,
    private readonly logger: Logger,
    private readonly timeoutMs = 3000,
  ) {}

  /** Subscribes to the revocation channel; call once with a dedicated subscriber client. */
  async listen(subscriber: Redis, redisPrefix: string): Promise<void> {
    const channel = channels.sessionRevoked(redisPrefix);
    subscriber.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      for (const id of message.split(','))
        this.cache.set(id, { live: false, until: Number.POSITIVE_INFINITY });
    });
    await subscriber.subscribe(channel);
  }

  async isLive(sessionId: string): Promise<boolean> {
    const hit = this.cache.get(sessionId);
    const now = Date.now();
    if (hit && hit.until > now) return hit.live;
    // Concurrent requests of one session share one check.
    let pending = this.inFlight.get(sessionId);
    if (!pending) {
      pending = this.fetch(sessionId).finally(() => this.inFlight.delete(sessionId));
      this.inFlight.set(sessionId, pending);
    }
    const live = await pending;
    if (live === undefined) return false;
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    // A confirmed end is final (sessions never come back); a live answer is trusted for a while, and
    // revocations published meanwhile override it at once.
    this.cache.set(sessionId, {
      live,
      until: live ? Date.now() + this.config.SESSION_CACHE_SECONDS * 1000 : Number.POSITIVE_INFINITY,
    });
    return live;
  }

  /** @returns the sessions service's answer, or undefined when it could not be asked (not cached). */
  private async fetch(sessionId: string): Promise<boolean | undefined> {
    try {
      const res = await fetch(
        `${this.config.sessionsUrl}/internal/sessions/${encodeURIComponent(sessionId)}`,
        {
          headers: { 'x-service-token': this.config.SERVICE_TOKEN },
          signal: AbortSignal.timeout(this.timeoutMs),
        },
      );
      if (res.status === 404) return false;
      if (!res.ok) throw new Error(`sessions answered ${res.status}`);
      const body = (await res.json()) as { live?: boolean };
      return body.live === true;
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
