/**
 * The one place tests mint access tokens: an Ed25519 key of the test's own, served to verifiers as a
 * local JWKS (no auth service needed), or auth's own keys for tests that verify through auth.
 */
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTVerifyGetKey } from 'jose';
import { ACCESS_TOKEN_ALG, type Role } from '../../lib/auth.js';
import type { Config } from '../../lib/config.js';
import type { AuthConfig } from '../../subgraphs/auth/src/config.js';
import { SigningKeyStore } from '../../subgraphs/auth/src/keys.js';
import { TokenSigner } from '../../subgraphs/auth/src/token.service.js';

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
  /** The public key as a JWK (with `kid`), for a test that serves its own JWKS endpoint. */
  jwk: JWK;
  /**
   * Signs a token for `config`'s issuer and audience.
   * @param ttlSeconds lifetime; negative for an expired token @default 600
   */
  sign(claims?: TestClaims, ttlSeconds?: number): Promise<string>;
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
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: ACCESS_TOKEN_ALG, use: 'sig' };
  return {
    jwks: createLocalJWKSet({ keys: [jwk] }),
    jwk,
    sign: (c = {}, ttlSeconds = 600) =>
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
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
        .sign(privateKey),
  };
}

/** Signs with auth's own keys (JWT_KEYS_DIR), as auth does; {@link jwks} verifies like auth's JWKS. */
export interface AuthKeySigner {
  jwks: JWTVerifyGetKey;
  /** Signs a token for `config`'s issuer and audience, valid `ttlSeconds` (default: the config's TTL). */
  sign(claims?: TestClaims & { ttlSeconds?: number }): Promise<string>;
  close(): void;
}

/**
 * Opens auth's key store of `config` (the keys a running auth service serves), for tests whose
 * services verify through auth's JWKS: the one other way, besides {@link createTestSigner}, to mint
 * test tokens.
 */
export async function openAuthKeySigner(
  config: Pick<AuthConfig, 'JWT_KEYS_DIR' | 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'ACCESS_TOKEN_TTL_SECONDS'>,
): Promise<AuthKeySigner> {
  const keys = await SigningKeyStore.open(config.JWT_KEYS_DIR, 0);
  return {
    jwks: keys.getKey,
    sign: async (c = {}) => {
      const ttl = c.ttlSeconds ?? config.ACCESS_TOKEN_TTL_SECONDS;
      const signer = new TokenSigner(keys, { ...config, ACCESS_TOKEN_TTL_SECONDS: ttl });
      const { accessToken } = await signer.sign({
        userId: c.userId ?? randomUUID(),
        sessionId: c.sessionId ?? randomUUID(),
        tenantId: c.tenantId ?? randomUUID(),
        role: c.role ?? 'OWNER',
        platformAdmin: c.platformAdmin ?? false,
        email: c.email ?? 'test@example.test',
      });
      return accessToken;
    },
    close: () => keys.close(),
  };
}
