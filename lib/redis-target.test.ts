import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisTargetOptions, type RedisTarget } from './redis.js';

let dir = '';
let ca = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-redis-target-'));
  ca = path.join(dir, 'ca.crt');
  await writeFile(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const target = (over: Partial<RedisTarget>): RedisTarget => ({
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_SENTINELS: [],
  REDIS_SENTINEL_NAME: 'tradesage',
  REDIS_SENTINEL_TLS: false,
  ...over,
});

describe('redisTargetOptions', () => {
  it('adds nothing for a plain URL', () => {
    expect(redisTargetOptions(target({}))).toEqual({});
  });

  it('verifies rediss:// against the configured CA, never unverified', () => {
    const o = redisTargetOptions(target({ REDIS_URL: 'rediss://127.0.0.1:6380', REDIS_TLS_CA_PATH: ca }));
    expect(o.tls).toEqual({ ca: expect.stringContaining('BEGIN CERTIFICATE') as unknown });
    expect(JSON.stringify(o)).not.toContain('rejectUnauthorized');
  });

  it('asks the sentinels for the primary, with TLS to the data nodes and the sentinels', () => {
    const o = redisTargetOptions(
      target({
        REDIS_URL: 'rediss://:s3cret@ignored:1/2',
        REDIS_SENTINELS: ['127.0.0.1:26379', 'sentinel-b:26380'],
        REDIS_SENTINEL_TLS: true,
        REDIS_TLS_CA_PATH: ca,
      }),
    );
    expect(o.sentinels).toEqual([
      { host: '127.0.0.1', port: 26379 },
      { host: 'sentinel-b', port: 26380 },
    ]);
    expect(o.name).toBe('tradesage');
    expect(o.db).toBe(2);
    expect(o.password).toBe('s3cret');
    expect(o.enableTLSForSentinelMode).toBe(true);
    expect(o.sentinelTLS).toEqual(o.tls);
    expect(o.reconnectOnError?.(new Error("READONLY You can't write against a read only replica."))).toBe(2);
  });
});
