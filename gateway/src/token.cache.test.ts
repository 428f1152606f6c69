import { describe, expect, it } from 'vitest';
import type { AuthClaims } from '../../lib/auth.js';
import { unauthenticated } from '../../lib/errors.js';
import { CachingTokenVerifier, MAX_ENTRY_MS } from './token.cache.js';

const claims = (expiresInSeconds: number): AuthClaims => ({
  userId: 'u',
  sessionId: 's',
  tenantId: 't',
  role: 'OWNER',
  platformAdmin: false,
  email: 'e@example.com',
  expiresAt: Math.floor(Date.now() / 1000) + expiresInSeconds,
});

/** A verifier that counts calls and answers what the test says. */
function counting(answer: () => AuthClaims | null) {
  const calls = { n: 0 };
  return {
    calls,
    verifier: {
      verifyHeader: (header: string | undefined) => {
        calls.n++;
        if (header === 'Bearer bad') return Promise.reject(unauthenticated('Invalid access token'));
        return Promise.resolve(answer());
      },
    },
  };
}

describe('CachingTokenVerifier', () => {
  it('verifies a token once, then checks only liveness', async () => {
    const live = { value: true };
    const { calls, verifier } = counting(() => claims(600));
    const cache = new CachingTokenVerifier(verifier, { isLive: () => Promise.resolve(live.value) });
    expect(await cache.verifyHeader('Bearer a')).toMatchObject({ userId: 'u' });
    expect(await cache.verifyHeader('Bearer a')).toMatchObject({ userId: 'u' });
    expect(calls.n).toBe(1);
    live.value = false;
    await expect(cache.verifyHeader('Bearer a')).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      message: 'Session revoked or expired',
    });
  });

  it('never caches failures, anonymous calls or tokens past their expiry', async () => {
    const { calls, verifier } = counting(() => claims(-1));
    const cache = new CachingTokenVerifier(verifier, null);
    await expect(cache.verifyHeader('Bearer bad')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(cache.verifyHeader('Bearer bad')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await cache.verifyHeader(undefined)).toBeNull();
    await cache.verifyHeader('Bearer expired');
    await cache.verifyHeader('Bearer expired');
    expect(calls.n).toBe(4);
  });

  it('bounds how long a verified token is trusted and how many are kept', async () => {
    expect(MAX_ENTRY_MS).toBeLessThanOrEqual(10 * 60_000);
    const { calls, verifier } = counting(() => claims(600));
    const cache = new CachingTokenVerifier(verifier, null, 2);
    for (const t of ['a', 'b', 'c', 'a']) await cache.verifyHeader(`Bearer ${t}`);
    expect(calls.n).toBe(4);
  });
});
