/**
 * Verified access tokens, remembered briefly. Every request verifies its JWT again (zero trust between
 * services), and an Ed25519 signature check (about 0.2 ms of CPU each with jose) is the largest cost of
 * a small request; a token's bytes never change, so the outcome of checking the same bytes again is
 * known.
 *
 * What is still checked on every request: expiry (from the cached claims) and session liveness
 * (revocation), exactly as without the cache. What is remembered: only tokens that verified, each for
 * at most `ttlMs` (so a signing key withdrawn from the JWKS stops being honoured within that time, like
 * jose's own JWKS cache) and never past the token's `exp`.
 */
import type { AccessTokenVerifier, AuthClaims, SessionLiveness } from './auth.js';
import { unauthenticated } from './errors.js';

/** Longest time a verified token is trusted without checking its signature again, by default. */
export const MAX_ENTRY_MS = 5 * 60_000;

/** The part of {@link AccessTokenVerifier} that request handlers use. */
export type HeaderVerifier = Pick<AccessTokenVerifier, 'verifyHeader'>;

/** Options of {@link CachingAccessTokenVerifier}. */
export interface TokenCacheOptions {
  /**
   * Longest time a verified signature is reused (always bounded by the token's expiry).
   * @default MAX_ENTRY_MS
   */
  ttlMs?: number;
  /**
   * Entries kept before the cache starts over (a bound on memory).
   * @default 50_000
   */
  maxEntries?: number;
  /**
   * Clock, epoch milliseconds.
   * @default Date.now
   */
  now?: () => number;
}

/** A {@link HeaderVerifier} that skips the signature check for recently verified tokens. */
export class CachingAccessTokenVerifier implements HeaderVerifier {
  private readonly cache = new Map<string, { claims: AuthClaims; until: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  /**
   * @param inner the real verifier (signature, issuer, audience, expiry, liveness)
   * @param liveness checked on cache hits (the inner verifier checks it on misses)
   * @param options see {@link TokenCacheOptions}
   */
  constructor(
    private readonly inner: HeaderVerifier,
    private readonly liveness: SessionLiveness | null,
    options: TokenCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? MAX_ENTRY_MS;
    this.maxEntries = options.maxEntries ?? 50_000;
    this.now = options.now ?? Date.now;
  }

  /** See {@link AccessTokenVerifier.verifyHeader}. */
  async verifyHeader(header: string | undefined): Promise<AuthClaims | null> {
    if (header === undefined || header === '') return null;
    const now = this.now();
    const hit = this.cache.get(header);
    if (hit && hit.until > now) {
      if (this.liveness && !(await this.liveness.isLive(hit.claims.sessionId))) {
        // Same message as lib/auth, so clients and the failure metric see one reason.
        throw unauthenticated('Session revoked or expired');
      }
      return hit.claims;
    }
    if (hit) this.cache.delete(header);
    const claims = await this.inner.verifyHeader(header);
    if (claims) {
      if (this.cache.size >= this.maxEntries) this.cache.clear();
      this.cache.set(header, { claims, until: Math.min(claims.expiresAt * 1000, now + this.ttlMs) });
    }
    return claims;
  }
}
