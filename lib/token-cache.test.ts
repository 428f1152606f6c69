import type { JWTVerifyGetKey } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTestSigner } from '../test/support/tokens.js';
import { AccessTokenVerifier, type AuthClaims, type SessionLiveness } from './auth.js';
import { unauthenticated } from './errors.js';
import { CachingAccessTokenVerifier, MAX_ENTRY_MS } from './token-cache.js';

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

const config = { jwksUrl: 'http://127.0.0.1:9/jwks', JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud' };

/** Real Ed25519 tokens and a JWKS that counts key lookups (one per signature check). */
async function signer() {
  const test = await createTestSigner(config, 'k');
  let keyLookups = 0;
  const jwks: JWTVerifyGetKey = (header, token) => {
    keyLookups++;
    return test.jwks(header, token);
  };
  return { jwks, sign: (sessionId: string) => test.sign({ sessionId }), lookups: () => keyLookups };
}

describe('CachingAccessTokenVerifier', () => {
  it('verifies a token once, then checks only liveness', async () => {
    const live = { value: true };
    const { calls, verifier } = counting(() => claims(600));
    const cache = new CachingAccessTokenVerifier(verifier, { isLive: () => Promise.resolve(live.value) });
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
    const cache = new CachingAccessTokenVerifier(verifier, null);
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
    const cache = new CachingAccessTokenVerifier(verifier, null, { maxEntries: 2 });
    for (const t of ['a', 'b', 'c', 'a']) await cache.verifyHeader(`Bearer ${t}`);
    expect(calls.n).toBe(4);
  });

  it('checks a real signature once per token but asks session liveness every time', async () => {
    const { jwks, sign, lookups } = await signer();
    const revoked = new Set<string>();
    let livenessCalls = 0;
    const liveness: SessionLiveness = {
      isLive: (sid) => {
        livenessCalls++;
        return Promise.resolve(!revoked.has(sid));
      },
    };
    const v = new CachingAccessTokenVerifier(new AccessTokenVerifier(config, liveness, jwks), liveness);
    const header = `Bearer ${await sign('s1')}`;
    const a = await v.verifyHeader(header);
    const b = await v.verifyHeader(header);
    expect(b).toEqual(a);
    expect(lookups()).toBe(1);
    expect(livenessCalls).toBe(2);
    revoked.add('s1');
    await expect(v.verifyHeader(header)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('forgets a verification after its time and never accepts a forged token', async () => {
    const { jwks, sign, lookups } = await signer();
    let now = Date.now();
    const v = new CachingAccessTokenVerifier(new AccessTokenVerifier(config, null, jwks), null, {
      ttlMs: 1_000,
      maxEntries: 10,
      now: () => now,
    });
    const token = await sign('s2');
    await v.verifyHeader(`Bearer ${token}`);
    now += 1_500;
    await v.verifyHeader(`Bearer ${token}`);
    expect(lookups()).toBe(2);
    const [h, p] = token.split('.');
    await expect(v.verifyHeader(`Bearer ${h}.${p}.${'A'.repeat(86)}`)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });
});
