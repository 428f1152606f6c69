/**
 * Auth's JWKS for verifiers, fetched with jose's `createRemoteJWKSet` and kept usable while auth cannot
 * be reached. jose reloads a set older than `cacheMaxAge` before the next verification and throws when
 * that fetch fails, although the keys it holds are still good: every 10 minutes an auth restart, a
 * PgBouncer outage (auth's `/ready` fails, HAProxy answers 503) or a slow answer under load turned valid
 * tokens into "Invalid access token" (chaos run 7, docs/reliability.md). Here a failed fetch falls back
 * to the last keys fetched (stale-if-error, bounded by `staleMaxMs`), and when there are none, or the
 * token names a key they lack, it throws {@link KeySetUnavailableError}: the request can be retried,
 * the token is not known to be bad.
 */
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, type JWTVerifyGetKey } from 'jose';

type VerifyKey = Awaited<ReturnType<JWTVerifyGetKey>>;

/** How often a verification that reached jose's set copies it for outages. */
const SNAPSHOT_EVERY_MS = 1_000;

/** The signing keys could not be fetched and no usable copy is held; the token's validity is unknown. */
export class KeySetUnavailableError extends Error {
  constructor(cause: unknown) {
    super('signing keys could not be fetched', { cause });
    this.name = 'KeySetUnavailableError';
  }
}

/** Options of {@link createResilientJwks}. */
export interface ResilientJwksOptions {
  /**
   * Age after which the set is fetched again before a verification (jose's `cacheMaxAge`).
   * @default 600_000
   */
  cacheMaxAgeMs?: number;
  /**
   * Least time between two fetches caused by an unknown `kid` (jose's `cooldownDuration`).
   * @default 5_000
   */
  cooldownMs?: number;
  /**
   * How long one fetch may take (jose's `timeoutDuration`).
   * @default 5_000
   */
  timeoutMs?: number;
  /**
   * Longest time since the held keys were last confirmed (a verification through jose's set, which is
   * at most `cacheMaxAgeMs` old) during which they are still used when fetches fail. A key withdrawn
   * from the JWKS stays honoured that long (plus `cacheMaxAgeMs`) while auth is unreachable.
   * @default 3_600_000
   */
  staleMaxMs?: number;
  /**
   * How long after a failed fetch the held keys are used without asking again (no fetch per request
   * while auth is down).
   * @default 1_000
   */
  retryAfterFailureMs?: number;
  /**
   * Clock, epoch milliseconds.
   * @default Date.now
   */
  now?: () => number;
}

/** Errors of the key lookup itself: the token names no key, or an ambiguous one. Never a fetch failure. */
function isTokenError(err: unknown): boolean {
  return err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys;
}

/**
 * A key getter for `jwtVerify` over the JWKS at `url`; see the module comment.
 * @throws KeySetUnavailableError when the set could not be fetched and no held key verifies the token
 */
export function createResilientJwks(url: URL, options: ResilientJwksOptions = {}): JWTVerifyGetKey {
  const now = options.now ?? Date.now;
  const staleMaxMs = options.staleMaxMs ?? 3_600_000;
  const retryAfterFailureMs = options.retryAfterFailureMs ?? 1_000;
  const remote = createRemoteJWKSet(url, {
    cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
    cooldownDuration: options.cooldownMs ?? 5_000,
    timeoutDuration: options.timeoutMs ?? 5_000,
  });
  /** The last set fetched, as a local key getter, and when it was last known current. */
  let held: { getKey: JWTVerifyGetKey; confirmedAt: number } | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;

  const fromHeld = async (cause: unknown, ...args: Parameters<JWTVerifyGetKey>): Promise<VerifyKey> => {
    if (!held || now() - held.confirmedAt > staleMaxMs) throw new KeySetUnavailableError(cause);
    try {
      return await held.getKey(...args);
    } catch (err) {
      // A kid the held set lacks may be a key auth rotated in since: not known to be bad.
      if (isTokenError(err)) throw new KeySetUnavailableError(cause);
      throw err;
    }
  };

  return async (...args) => {
    if (held && now() - failedAt < retryAfterFailureMs) return fromHeld(undefined, ...args);
    let key: VerifyKey;
    try {
      key = await remote(...args);
    } catch (err) {
      if (isTokenError(err)) throw err;
      failedAt = now();
      return fromHeld(err, ...args);
    }
    // jose holds a set younger than cacheMaxAge now: copied for outages, at most once a second (a copy
    // is a structuredClone; keys are imported again only when the copy is used).
    const at = now();
    if (!held || at - held.confirmedAt >= SNAPSHOT_EVERY_MS) {
      const set = remote.jwks();
      if (set) held = { getKey: createLocalJWKSet(set), confirmedAt: at };
    }
    return key;
  };
}
