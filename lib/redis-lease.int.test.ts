import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { RedisLease, RedisLeases } from './redis-lease.js';
import { createRedis, type Redis } from './redis.js';

const prefix = `test:lease-${randomBytes(4).toString('hex')}:`;
let redis: Redis;

beforeAll(() => {
  const config = loadConfig({ SERVICE_TOKEN: randomBytes(32).toString('hex'), NODE_ENV: 'test' });
  redis = createRedis(config, 'commands', prefix);
});

afterAll(async () => {
  // ioredis does not prefix a KEYS pattern, and DEL through the prefixed client wants relative names.
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys.map((k) => k.slice(prefix.length)));
  redis.disconnect();
});

describe('RedisLeases', () => {
  it('gives each name to one holder, renews it for that holder only, and releases it to the next', async () => {
    const a = new RedisLeases(redis, { token: 'a', ttlMs: 10_000, keyOf: (s) => `engine:${s}` });
    const b = new RedisLeases(redis, { token: 'b', ttlMs: 10_000, keyOf: (s) => `engine:${s}` });
    expect([...(await a.claim(['X', 'Y']))].sort()).toEqual(['X', 'Y']);
    expect([...(await b.claim(['X', 'Y', 'Z']))]).toEqual(['Z']);
    expect(await redis.get('engine:X')).toBe('a');
    expect(a.holds('X') && !b.holds('X')).toBe(true);
    // A holder's release cannot drop another's lease (compare-and-delete).
    await b.release(['X']);
    expect(await redis.get('engine:X')).toBe('a');
    await a.release(['X']);
    expect(a.holds('X')).toBe(false);
    expect([...(await b.claim(['X']))]).toEqual(['X']);
  });

  it('renews without taking again, and lets go locally once its deadline passes', async () => {
    let now = 1_000;
    const lease = new RedisLease(redis, 'leader', { token: 'me', ttlMs: 5_000, now: () => now });
    const other = new RedisLease(redis, 'leader', { token: 'other', ttlMs: 5_000 });
    expect(await lease.renew()).toBe(false);
    expect(await lease.acquire()).toBe(true);
    expect(await other.acquire()).toBe(false);
    expect(lease.held).toBe(true);
    now += 5_000;
    expect(lease.held).toBe(false);
    await redis.del('leader');
    expect(await lease.renew()).toBe(false);
    expect(await other.acquire()).toBe(true);
    expect(await lease.acquire()).toBe(false);
  });
});
