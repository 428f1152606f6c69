import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/config.js';
import { loadAuthConfig } from './config.js';

const token = randomBytes(32).toString('hex');

describe('loadAuthConfig', () => {
  it("applies auth's defaults and validates the section with the kernel", () => {
    const c = loadAuthConfig({ SERVICE_TOKEN: token, AUTH_PORT: '9101' });
    expect(c).toMatchObject({
      ACCESS_TOKEN_TTL_SECONDS: 900,
      ARGON2_MEMORY_KIB: 19_456,
      OIDC_ALLOW_INSECURE: false,
    });
    expect(c.JWT_KEYS_DIR).toMatch(/keys\/jwt$/);
    expect(c.jwksUrl).toBe('http://127.0.0.1:9101/.well-known/jwks.json');
    expect(() => loadAuthConfig({ SERVICE_TOKEN: token, ARGON2_MEMORY_KIB: '512' })).toThrow(
      /ARGON2_MEMORY_KIB/,
    );
  });

  it('requires the OIDC client when an issuer is configured, listed with the other problems', () => {
    expect.assertions(3);
    expect(() => loadAuthConfig({ SERVICE_TOKEN: token, OIDC_ISSUER: 'https://id.example.test' })).toThrow(
      /OIDC_CLIENT_ID and OIDC_REDIRECT_URI are required/,
    );
    try {
      loadAuthConfig({ SERVICE_TOKEN: 'short', OIDC_ISSUER: 'https://id.example.test' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.split(':')[0]).sort()).toEqual([
        'OIDC_CLIENT_ID',
        'SERVICE_TOKEN',
      ]);
    }
  });
});
