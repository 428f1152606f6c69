import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTVerifyGetKey } from 'jose';
import { describe, expect, it } from 'vitest';
import { CachingAccessTokenVerifier } from './token.cache.js';

const config = { jwksUrl: 'http://127.0.0.1:9/jwks', JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud' };

async function setup() {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k', alg: 'EdDSA' };
  let keyLookups = 0;
  const local = createLocalJWKSet({ keys: [jwk] });
  const jwks: JWTVerifyGetKey = (header, token) => {
    keyLookups++;
    return local(header, token);
  };
  const sign = (sid: string, ttl = '10m') =>
    new SignJWT({ sid, tid: randomUUID(), role: 'TRADER', adm: false, email: 'a@b.c' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k' })
      .setSubject(randomUUID())
      .setIssuer('iss')
      .setAudience('aud')
      .setIssuedAt()
      .setExpirationTime(ttl)
      .sign(privateKey);
  return { jwks, sign, lookups: () => keyLookups };
}

describe('CachingAccessTokenVerifier', () => {
  it('checks a signature once per token but asks session liveness every time', async () => {
    const { jwks, sign, lookups } = await setup();
    const revoked = new Set<string>();
    let livenessCalls = 0;
    const liveness = {
      isLive: (sid: string) => {
        livenessCalls++;
        return Promise.resolve(!revoked.has(sid));
      },
    };
    const v = new CachingAccessTokenVerifier(config, liveness, jwks);
    const token = await sign('s1');
    const a = await v.verifyToken(token);
    const b = await v.verifyToken(token);
    expect(b).toEqual(a);
    expect(lookups()).toBe(1);
    expect(livenessCalls).toBe(2);
    revoked.add('s1');
    await expect(v.verifyToken(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('forgets a verification after its time and never accepts a forged token', async () => {
    const { jwks, sign, lookups } = await setup();
    let now = Date.now();
    const v = new CachingAccessTokenVerifier(config, null, jwks, 1_000, 10, () => now);
    const token = await sign('s2');
    await v.verifyToken(token);
    now += 1_500;
    await v.verifyToken(token);
    expect(lookups()).toBe(2);
    const [h, p] = token.split('.');
    await expect(v.verifyToken(`${h}.${p}.${'A'.repeat(86)}`)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });
});
