import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const token = 'x'.repeat(40);

describe('loadConfig', () => {
  it('applies defaults and derives service URLs from ports', () => {
    const c = loadConfig({ SERVICE_TOKEN: token, AUTH_PORT: '9101', NODE_ENV: 'development' });
    expect(c.GATEWAY_PORT).toBe(8000);
    expect(c.authUrl).toBe('http://127.0.0.1:9101');
    expect(c.jwksUrl).toBe('http://127.0.0.1:9101/.well-known/jwks.json');
    expect(c.introspection).toBe(true);
    expect(c.supergraphWatch).toBe(true);
  });

  it('turns introspection and file watching off in production unless asked', () => {
    const c = loadConfig({ SERVICE_TOKEN: token, NODE_ENV: 'production' });
    expect(c.introspection).toBe(false);
    expect(c.supergraphWatch).toBe(false);
    expect(
      loadConfig({ SERVICE_TOKEN: token, NODE_ENV: 'production', INTROSPECTION: 'true' }).introspection,
    ).toBe(true);
  });

  it('lists every bad variable in one error', () => {
    expect.assertions(4);
    try {
      loadConfig({ SERVICE_TOKEN: 'short', GATEWAY_PORT: 'eighty', REDIS_URL: 'not a url' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const issues = (err as ConfigError).issues.join('\n');
      expect(issues).toContain('SERVICE_TOKEN');
      expect(issues).toContain('GATEWAY_PORT');
      expect(issues).toContain('REDIS_URL');
    }
  });

  it('requires the OIDC client when an issuer is configured', () => {
    expect(() => loadConfig({ SERVICE_TOKEN: token, OIDC_ISSUER: 'https://id.example.test' })).toThrow(
      /OIDC_CLIENT_ID/,
    );
  });

  it('parses comma lists and treats empty values as unset', () => {
    const c = loadConfig({
      SERVICE_TOKEN: token,
      CORS_ORIGINS: 'https://a.test, https://b.test,',
      LOG_LEVEL: '',
    });
    expect(c.CORS_ORIGINS).toEqual(['https://a.test', 'https://b.test']);
    expect(c.LOG_LEVEL).toBe('info');
  });
});
