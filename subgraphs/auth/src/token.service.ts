import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { ACCESS_TOKEN_ALG, type AuthClaims } from '../../../lib/auth.js';
import type { AuthConfig } from './config.js';
import type { SigningKeyStore } from './keys.js';

/** What an access token says about its holder: the claims verifiers read, its expiry aside. */
export type AccessTokenSubject = Omit<AuthClaims, 'expiresAt'>;

/**
 * Signs access tokens: EdDSA with the newest key (its `kid` in the header), claims `iss`, `aud`,
 * `sub`, `sid`, `tid`, `role`, `adm`, `email`, `iat`, `exp` and a unique `jti`.
 */
export class TokenSigner {
  constructor(
    private readonly keys: SigningKeyStore,
    private readonly config: Pick<AuthConfig, 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'ACCESS_TOKEN_TTL_SECONDS'>,
    private readonly now: () => number = Date.now,
  ) {}

  async sign(subject: AccessTokenSubject): Promise<{ accessToken: string; expiresAt: Date }> {
    const key = this.keys.current();
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + this.config.ACCESS_TOKEN_TTL_SECONDS;
    const accessToken = await new SignJWT({
      sid: subject.sessionId,
      tid: subject.tenantId,
      role: subject.role,
      adm: subject.platformAdmin,
      email: subject.email,
    })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(this.config.JWT_ISSUER)
      .setAudience(this.config.JWT_AUDIENCE)
      .setSubject(subject.userId)
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(key.privateKey);
    return { accessToken, expiresAt: new Date(exp * 1000) };
  }
}
