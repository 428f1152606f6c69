import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AccessTokenVerifier } from '../../lib/auth.js';
import { authFailureReason } from './gateway.metrics.js';

describe('auth failure reasons', () => {
  it('maps the errors lib/auth really throws to metric labels', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' };
    const cfg = { jwksUrl: 'http://127.0.0.1:9/jwks', JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud' };
    const verifier = new AccessTokenVerifier(
      cfg,
      { isLive: () => Promise.resolve(false) },
      createLocalJWKSet({ keys: [jwk] }),
    );
    const token = (exp: number): Promise<string> =>
      new SignJWT({ sid: 's', tid: 't', role: 'OWNER' })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
        .setSubject('u')
        .setIssuer('iss')
        .setAudience('aud')
        .setExpirationTime(exp)
        .sign(privateKey);
    const reasonOf = async (header: string): Promise<string> => {
      try {
        await verifier.verifyHeader(header);
      } catch (err) {
        return authFailureReason((err as Error).message);
      }
      return 'accepted';
    };
    const now = Math.floor(Date.now() / 1000);
    expect(await reasonOf('Basic abc')).toBe('malformed');
    expect(await reasonOf('Bearer abc.def.ghi')).toBe('invalid');
    expect(await reasonOf(`Bearer ${await token(now - 600)}`)).toBe('expired');
    expect(await reasonOf(`Bearer ${await token(now + 600)}`)).toBe('revoked');
  });
});
