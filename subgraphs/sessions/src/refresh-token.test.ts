import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashRefreshToken, newRefreshToken, sessionIdOfRefreshToken } from './refresh-token.js';

describe('refresh tokens', () => {
  it('carry their session id and 256 bits of randomness, and are stored as a SHA-256', () => {
    const id = randomUUID();
    const { token, hash } = newRefreshToken(id);
    expect(token).toMatch(new RegExp(`^${id}\\.[A-Za-z0-9_-]{43}$`));
    expect(hash).toBe(hashRefreshToken(token));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(newRefreshToken(id).token).not.toBe(token);
    expect(sessionIdOfRefreshToken(token)).toBe(id);
  });

  it.each([
    '',
    'abc',
    `${randomUUID()}.short`,
    `not-a-uuid.${'A'.repeat(43)}`,
    `${randomUUID()}.${'A'.repeat(43)}.x`,
  ])('rejects malformed token %j', (token) => {
    expect(sessionIdOfRefreshToken(token)).toBeNull();
  });
});
