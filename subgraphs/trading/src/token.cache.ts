/**
 * Verified access tokens, remembered briefly. Every request re-verifies its JWT (zero trust between
 * services), and an EdDSA signature check is the largest CPU cost of a small mutation; a token's bytes
 * never change, so the outcome of checking the same bytes again is known. Session liveness is still
 * asked on every request (lib's CachedSessionLiveness answers from its own cache and drops revoked
 * sessions at once), and an entry never outlives the token's expiry.
 */
import type { JWTVerifyGetKey } from 'jose';
import { AccessTokenVerifier, type AuthClaims, type SessionLiveness } from '../../../lib/auth.js';
import type { Config } from '../../../lib/config.js';
import { unauthenticated } from '../../../lib/errors.js';

export class CachingAccessTokenVerifier extends AccessTokenVerifier {
  private readonly verified = new Map<string, { claims: AuthClaims; until: number }>();

  /**
   * @param ttlMs longest time a verified signature is reused (bounded by the token's expiry)
   * @param maxEntries entries kept before the cache starts over
   */
  constructor(
    config: Pick<Config, 'jwksUrl' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>,
    private readonly liveness: SessionLiveness | null,
    jwks?: JWTVerifyGetKey,
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 50_000,
    private readonly now: () => number = Date.now,
  ) {
    // The parent checks signatures only; liveness is asked here, for cached and fresh tokens alike.
    super(config, null, jwks);
  }

  override async verifyToken(token: string): Promise<AuthClaims> {
    const now = this.now();
    let hit = this.verified.get(token);
    if (hit && (hit.until <= now || hit.claims.expiresAt * 1000 <= now)) {
      this.verified.delete(token);
      hit = undefined;
    }
    let claims: AuthClaims;
    if (hit) claims = hit.claims;
    else {
      claims = await super.verifyToken(token);
      if (this.verified.size >= this.maxEntries) this.verified.clear();
      this.verified.set(token, { claims, until: Math.min(now + this.ttlMs, claims.expiresAt * 1000) });
    }
    if (this.liveness && !(await this.liveness.isLive(claims.sessionId))) {
      throw unauthenticated('Session revoked or expired');
    }
    return claims;
  }
}
