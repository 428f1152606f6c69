import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const token = randomBytes(32).toString('hex');

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

  it('trusts no proxy by default and validates TRUSTED_PROXIES entries', () => {
    expect(loadConfig({ SERVICE_TOKEN: token }).TRUSTED_PROXIES).toEqual([]);
    expect(
      loadConfig({ SERVICE_TOKEN: token, TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.1,::1/128,loopback' })
        .TRUSTED_PROXIES,
    ).toEqual(['10.0.0.0/8', '192.0.2.1', '::1/128', 'loopback']);
    for (const bad of ['10.0.0.0/33', 'proxy.example.com', '::1/129', '10.0.0.0/8/1', '*']) {
      expect(() => loadConfig({ SERVICE_TOKEN: token, TRUSTED_PROXIES: bad }), bad).toThrow(
        /TRUSTED_PROXIES/,
      );
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

  it('pins the MA130 host key from its public key file, as ssh-keygen -lf prints it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tradesage-config-'));
    try {
      const file = path.join(dir, 'host.pub');
      // `ssh-keygen -lf` of this line printed SHA256:VaGP9KqHIgYztDwVJIUDMoIHj8BPVdE5maC6W8DCAvQ.
      writeFileSync(
        file,
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICp4dKNHY2HOsc7Q03eVwf5JzJpw2REntPX24qeZC1p7 test\n',
      );
      const c = loadConfig({ SERVICE_TOKEN: token, MA130_HOST_PUBLIC_KEY_PATH: file });
      expect(c.MA130_HOST_KEY_SHA256).toBe('SHA256:VaGP9KqHIgYztDwVJIUDMoIHj8BPVdE5maC6W8DCAvQ');
      // An explicit fingerprint wins over the file.
      const pinned = 'SHA256:' + 'A'.repeat(43);
      expect(
        loadConfig({ SERVICE_TOKEN: token, MA130_HOST_PUBLIC_KEY_PATH: file, MA130_HOST_KEY_SHA256: pinned })
          .MA130_HOST_KEY_SHA256,
      ).toBe(pinned);
      expect(() =>
        loadConfig({ SERVICE_TOKEN: token, MA130_HOST_PUBLIC_KEY_PATH: path.join(dir, 'missing.pub') }),
      ).toThrow(ConfigError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
