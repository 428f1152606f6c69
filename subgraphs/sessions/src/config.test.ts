import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadSessionsConfig } from './config.js';

const token = randomBytes(32).toString('hex');

describe('loadSessionsConfig', () => {
  it("applies the sessions' lifetimes and validates the section with the kernel", () => {
    const c = loadSessionsConfig({ SERVICE_TOKEN: token, SESSIONS_MAX_PER_USER: '3' });
    expect(c).toMatchObject({
      SESSION_TTL_SECONDS: 30 * 24 * 3600,
      SESSION_ABSOLUTE_TTL_SECONDS: 90 * 24 * 3600,
      SESSIONS_MAX_PER_USER: 3,
      SESSION_CACHE_SECONDS: 30,
    });
    expect(() => loadSessionsConfig({ SERVICE_TOKEN: token, SESSION_TTL_SECONDS: '0' })).toThrow(
      /SESSION_TTL_SECONDS/,
    );
  });
});
