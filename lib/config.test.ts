import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  bool,
  ConfigError,
  configSection,
  configVariableNames,
  loadConfig,
  port,
  positiveInt,
} from './config.js';

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

  it('parses comma lists and treats empty values as unset', () => {
    const c = loadConfig({
      SERVICE_TOKEN: token,
      CORS_ORIGINS: 'https://a.test, https://b.test,',
      LOG_LEVEL: '',
    });
    expect(c.CORS_ORIGINS).toEqual(['https://a.test', 'https://b.test']);
    expect(c.LOG_LEVEL).toBe('info');
  });

  it('validates a section with the kernel in one pass and freezes the result', () => {
    const section = configSection({ EXAMPLE_LIMIT: positiveInt.default(3), EXAMPLE_ON: bool.default(false) });
    const c = loadConfig({ SERVICE_TOKEN: token, EXAMPLE_ON: 'yes' }, section);
    expect(c.EXAMPLE_LIMIT).toBe(3);
    expect(c.EXAMPLE_ON).toBe(true);
    expect(c.GATEWAY_PORT).toBe(8000);
    expect(Object.isFrozen(c)).toBe(true);
    // Without the section its variables are not read.
    expect('EXAMPLE_LIMIT' in loadConfig({ SERVICE_TOKEN: token })).toBe(false);
    expect(configVariableNames(section)).toEqual(expect.arrayContaining(['GATEWAY_PORT', 'EXAMPLE_LIMIT']));
  });

  it("lists the kernel's and every section's problems in one error", () => {
    expect.assertions(3);
    const limits = configSection({ EXAMPLE_LIMIT: positiveInt.default(3) });
    const file = configSection(
      { EXAMPLE_FILE: z.string().optional() },
      {
        finish: (v) => {
          throw new ConfigError([`EXAMPLE_FILE: cannot read ${v.EXAMPLE_FILE ?? 'nothing'}`]);
        },
      },
    );
    const other = configSection(
      {},
      {
        finish: () => {
          throw new ConfigError(['EXAMPLE_OTHER: unreadable']);
        },
      },
    );
    try {
      loadConfig({ SERVICE_TOKEN: token, EXAMPLE_LIMIT: '0', GATEWAY_PORT: 'eighty' }, limits);
    } catch (err) {
      const issues = (err as ConfigError).issues.join('\n');
      expect(issues).toContain('EXAMPLE_LIMIT');
      expect(issues).toContain('GATEWAY_PORT');
    }
    // Problems found after validation (a file to read) are gathered across sections too.
    try {
      loadConfig({ SERVICE_TOKEN: token, EXAMPLE_FILE: 'x' }, file, other);
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([
        'EXAMPLE_FILE: cannot read x',
        'EXAMPLE_OTHER: unreadable',
      ]);
    }
  });

  it("runs a section's rules across its variables in the kernel's pass", () => {
    expect.assertions(2);
    const range = configSection(
      { EXAMPLE_MIN: positiveInt.default(1), EXAMPLE_MAX: positiveInt.default(2) },
      {
        check(v, ctx) {
          if (v.EXAMPLE_MIN > v.EXAMPLE_MAX) {
            ctx.addIssue({ code: 'custom', path: ['EXAMPLE_MAX'], message: 'below EXAMPLE_MIN' });
          }
        },
      },
    );
    expect(loadConfig({ SERVICE_TOKEN: token, EXAMPLE_MIN: '2' }, range).EXAMPLE_MAX).toBe(2);
    try {
      loadConfig({ SERVICE_TOKEN: 'short', EXAMPLE_MIN: '3' }, range);
    } catch (err) {
      expect((err as ConfigError).issues.map((i) => i.split(':')[0]).sort()).toEqual([
        'EXAMPLE_MAX',
        'SERVICE_TOKEN',
      ]);
    }
  });

  it('refuses a section that declares a variable the kernel or another section has', () => {
    expect(() =>
      loadConfig({ SERVICE_TOKEN: token }, configSection({ GATEWAY_PORT: port.default(1) })),
    ).toThrow(/GATEWAY_PORT is declared twice/);
  });
});
