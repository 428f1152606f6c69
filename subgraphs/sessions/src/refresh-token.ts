import { createHash, randomBytes } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** True for a session id as this service issues them (a lower-case UUID). */
export function isSessionId(value: string): boolean {
  return UUID.test(value);
}

/** SHA-256 (hex) of a refresh token: the only form in which refresh tokens are stored. */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * A new refresh token `<sessionId>.<base64url of 32 random bytes>` and its hash. The session id in
 * front lets a rotation find its session without an index; the secret part carries the entropy.
 */
export function newRefreshToken(sessionId: string): { token: string; hash: string } {
  const token = `${sessionId}.${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashRefreshToken(token) };
}

/** The session id of a well-formed refresh token, or null. */
export function sessionIdOfRefreshToken(token: string): string | null {
  const dot = token.indexOf('.');
  if (dot < 0) return null;
  const id = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  return isSessionId(id) && SECRET.test(secret) ? id : null;
}
