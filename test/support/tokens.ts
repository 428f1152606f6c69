/**
 * Access tokens for tests: an Ed25519 key of the test's own, served to verifiers as a local JWKS (no
 * auth service needed), and tokens signed with it the way auth signs them.
 */
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTVerifyGetKey } from 'jose';
import { ACCESS_TOKEN_ALG, type Role } from '../../lib/auth.js';
import type { Config } from '../../lib/config.js';

/** The claims a test chooses; the rest default. */
export interface TestClaims {
  /** Subject. @default a random UUID */
  userId?: string | undefined;
  /** @default a random UUID */
  tenantId?: string | undefined;
  /** @default a random UUID */
  sessionId?: string | undefined;
  /** @default 'OWNER' */
  role?: Role | undefined;
  /** @default false */
  platformAdmin?: boolean | undefined;
  /** @default 'test@example.test' */
  email?: string | undefined;
}

/** Signs test tokens; {@link jwks} verifies them. */
export interface TestSigner {
  jwks: JWTVerifyGetKey;
  /** Signs a token valid for 10 minutes for `config`'s issuer and audience. */
  sign(claims?: TestClaims): Promise<string>;
}

/**
 * A fresh signing key with id `kid`.
 * @param config issuer and audience of the tokens
 */
export async function createTestSigner(
  config: Pick<Config, 'JWT_ISSUER' | 'JWT_AUDIENCE'>,
  kid: string,
): Promise<TestSigner> {
  const { publicKey, privateKey } = await generateKeyPair(ACCESS_TOKEN_ALG, { crv: 'Ed25519' });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: ACCESS_TOKEN_ALG };
  return {
    jwks: createLocalJWKSet({ keys: [jwk] }),
    sign: (c = {}) =>
      new SignJWT({
        sid: c.sessionId ?? randomUUID(),
        tid: c.tenantId ?? randomUUID(),
        role: c.role ?? 'OWNER',
        adm: c.platformAdmin ?? false,
        email: c.email ?? 'test@example.test',
      })
        .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, kid })
        .setSubject(c.userId ?? randomUUID())
        .setIssuer(config.JWT_ISSUER)
        .setAudience(config.JWT_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey),
  };
}
