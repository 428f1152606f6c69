/**
 * Verified access tokens, remembered briefly (lru-cache, bounded in size and time): a signature check
 * is the largest cost of a small request, and a token's bytes never change. Session liveness
 * (revocation) is still checked on every request. Only tokens that verified are kept, each for at most
 * `ttlMs` (a signing key withdrawn from the JWKS stops being honoured within that time) and never past
 * the token's `exp`.
 */
import { LRUCache } from 'lru-cache';
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
   * Entries kept; the least recently used goes first (a bound on memory).
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
  private readonly cache: LRUCache<string, AuthClaims>;
  private readonly ttlMs: number;
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
    this.now = options.now ?? Date.now;
    // ttlResolution 0: read the clock on every lookup, so an entry is never honoured past its time.
    this.cache = new LRUCache({
      max: options.maxEntries ?? 50_000,
      perf: { now: this.now },
      ttlResolution: 0,
    });
  }

  /** See {@link AccessTokenVerifier.verifyHeader}. */
  async verifyHeader(header: string | undefined): Promise<AuthClaims | null> {
    if (header === undefined || header === '') return null;
    const hit = this.cache.get(header);
    if (hit) {
      if (this.liveness && !(await this.liveness.isLive(hit.sessionId))) {
        // Same message as lib/auth, so clients and the failure metric see one reason.
        throw unauthenticated('Session revoked or expired');
      }
      return hit;
    }
    const claims = await this.inner.verifyHeader(header);
    if (claims) {
      const ttl = Math.min(claims.expiresAt * 1000 - this.now(), this.ttlMs);
      if (ttl > 0) this.cache.set(header, claims, { ttl });
    }
    return claims;
  }
}
