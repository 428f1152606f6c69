/**
 * Persisted queries (APQ) through HTTP with real Redis: anonymous clients cannot register, signed-in
 * clients can, and the store stays within its entry and byte bounds, evicting the least recently
 * used query. Each gateway here has a key prefix of its own.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config.js';
import { createTestEnv, type TestEnv } from '../../test/support/env.js';
import { eventually } from '../../test/support/wait.js';
import { createGateway, type GatewayService } from '../src/gateway.js';
import { PersistedOperations } from '../src/persisted-operations.js';
import { post, startEchoWorld, type AuthFixtures, type EchoWorld } from './support/harness.js';

let env: TestEnv;
let world: EchoWorld;
let auth: AuthFixtures;
let redis: Redis;
const running: GatewayService[] = [];

beforeAll(async () => {
  env = await createTestEnv('gateway_apq');
  world = await startEchoWorld(env);
  ({ auth } = world);
  redis = new Redis(env.config.REDIS_URL);
});

afterAll(async () => {
  for (const g of running) await g.stop();
  redis?.disconnect();
  await world?.stop();
  await env?.cleanup();
});

/** Starts a gateway; returns its URL and the Redis key prefix of its APQ store. */
async function gatewayWith(name: string, overrides: Partial<Config>): Promise<{ url: string; keys: string }> {
  const prefix = `${env.config.REDIS_PREFIX}${name}:`;
  const g = createGateway({ ...world.config, ...overrides, REDIS_PREFIX: prefix });
  running.push(g);
  const { url } = await g.start();
  return { url: `${url}/graphql`, keys: `${prefix}gateway:apq:` };
}

/** A distinct query of about 2 KB (a comment pads it: bytes, not tokens). */
function query(i: number): {
  query: string;
  extensions: { persistedQuery: { version: 1; sha256Hash: string } };
} {
  const text = `{ hello q${i}: hello } # ${'x'.repeat(2000)}`;
  const sha256Hash = createHash('sha256').update(text).digest('hex');
  return { query: text, extensions: { persistedQuery: { version: 1, sha256Hash } } };
}

const hashOnly = (q: ReturnType<typeof query>) => ({ extensions: q.extensions });

/**
 * Waits until Redis holds query `i`: Apollo stores a registration without awaiting it, so the answer
 * can arrive before the store has run.
 */
async function stored(keys: string, i: number): Promise<void> {
  const field = `apq:${query(i).extensions.persistedQuery.sha256Hash}`;
  await eventually(
    async () => ((await redis.hexists(`${keys}queries`, field)) ? true : undefined),
    `query ${i} stored`,
  );
}

/** The store's state in Redis, and a check that its byte counter matches what it holds. */
async function store(keys: string): Promise<{ entries: number; bytes: number; fields: string[] }> {
  const all = await redis.hgetall(`${keys}queries`);
  const fields = Object.keys(all);
  const held = Object.values(all).reduce((n, v) => n + Buffer.byteLength(v), 0);
  const bytes = Number((await redis.get(`${keys}bytes`)) ?? 0);
  expect(bytes).toBe(held);
  expect(await redis.zcard(`${keys}lru`)).toBe(fields.length);
  return { entries: fields.length, bytes, fields };
}

describe('persisted queries', () => {
  it('refuses every anonymous registration and stores nothing; hash-only look-ups still work', async () => {
    const { url, keys } = await gatewayWith('anon', {});
    const before = world.echo.received.length;
    for (let i = 0; i < 50; i++) {
      const res = await post(url, query(i));
      expect(res.status).toBe(403);
      expect(res.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
      expect(res.body.errors?.[0]?.message).toMatch(/signed-in client/);
    }
    expect(world.echo.received.length).toBe(before);
    expect(await redis.exists(`${keys}queries`, `${keys}lru`)).toBe(0);
    // Registered by a signed-in client, then read anonymously by hash.
    const registered = await post(url, query(100), { authorization: `Bearer ${await auth.mint()}` });
    expect(registered.body.data).toEqual({ hello: 'world', q100: 'world' });
    expect((await post(url, hashOnly(query(100)))).body.data).toEqual({ hello: 'world', q100: 'world' });
    const metrics = await (await fetch(url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/gateway_limit_refusals_total\{[^}]*limit="apq_registration"[^}]*\} 50/);
  });

  it('evicts the least recently used query beyond the entry cap', async () => {
    const { url, keys } = await gatewayWith('entries', { APQ_MAX_ENTRIES: 5 });
    const auth1 = { authorization: `Bearer ${await auth.mint()}` };
    for (let i = 0; i < 5; i++) {
      expect((await post(url, query(i), auth1)).status).toBe(200);
      await stored(keys, i);
    }
    // Query 0 is used again: query 1 becomes the least recently used.
    expect((await post(url, hashOnly(query(0)))).status).toBe(200);
    expect((await post(url, query(5), auth1)).status).toBe(200);
    await stored(keys, 5);
    const { entries, fields } = await store(keys);
    expect(entries).toBe(5);
    expect(fields).not.toContain(`apq:${query(1).extensions.persistedQuery.sha256Hash}`);
    for (const i of [0, 2, 3, 4, 5]) {
      expect(fields).toContain(`apq:${query(i).extensions.persistedQuery.sha256Hash}`);
    }
    // Gone from this gateway's memory too: the hash alone is no longer enough.
    const evicted = await post(url, hashOnly(query(1)));
    expect(evicted.body.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('keeps the stored bytes under the byte cap however many queries are registered', async () => {
    const maxBytes = 5000;
    const { url, keys } = await gatewayWith('bytes', { APQ_MAX_BYTES: maxBytes });
    const token = { authorization: `Bearer ${await auth.mint()}` };
    for (let i = 0; i < 20; i++) {
      expect((await post(url, query(i), token)).status).toBe(200);
      await stored(keys, i);
      const { bytes, entries } = await store(keys);
      expect(bytes).toBeLessThanOrEqual(maxBytes);
      expect(entries).toBeLessThanOrEqual(2);
    }
    // The newest ones are kept.
    const { fields } = await store(keys);
    expect(fields).toContain(`apq:${query(19).extensions.persistedQuery.sha256Hash}`);
  });
});

describe('persisted-operations manifest', () => {
  const listed = '{ hello listed: hello }';
  const other = '{ hello other: hello }';
  const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
  let manifestPath: string;

  beforeAll(async () => {
    manifestPath = path.join(env.tmpDir, 'manifest.json');
    const operations = [{ id: sha(listed), name: 'Listed', type: 'query', body: listed }];
    await writeFile(
      manifestPath,
      JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations }),
    );
  });

  const byHash = (text: string) => ({
    extensions: { persistedQuery: { version: 1, sha256Hash: sha(text) } },
  });

  it('serves listed operations by hash to everyone, and only them when PERSISTED_OPERATIONS_ONLY', async () => {
    const { url, keys } = await gatewayWith('manifest_only', {
      PERSISTED_OPERATIONS_PATH: manifestPath,
      PERSISTED_OPERATIONS_ONLY: true,
    });
    expect((await post(url, byHash(listed))).body.data).toEqual({ hello: 'world', listed: 'world' });
    expect((await post(url, { query: listed })).body.data).toEqual({ hello: 'world', listed: 'world' });
    const before = world.echo.received.length;
    const token = { authorization: `Bearer ${await auth.mint()}` };
    for (const body of [{ query: other }, { query: other, ...byHash(other) }]) {
      const res = await post(url, body, token);
      expect(res.status).toBe(403);
      expect(res.body.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/PERSISTED_OPERATIONS_ONLY/) as unknown,
        extensions: { code: 'FORBIDDEN' },
      });
    }
    expect(world.echo.received.length).toBe(before);
    expect(await redis.exists(`${keys}queries`)).toBe(0);
  });

  it('leaves other documents (and APQ) alone without PERSISTED_OPERATIONS_ONLY', async () => {
    const { url } = await gatewayWith('manifest', { PERSISTED_OPERATIONS_PATH: manifestPath });
    expect((await post(url, byHash(listed))).body.data).toEqual({ hello: 'world', listed: 'world' });
    expect((await post(url, { query: other })).body.data).toEqual({ hello: 'world', other: 'world' });
    const token = { authorization: `Bearer ${await auth.mint()}` };
    expect((await post(url, { query: other, ...byHash(other) }, token)).status).toBe(200);
    expect((await post(url, byHash(other))).body.data).toEqual({ hello: 'world', other: 'world' });
  });

  it('refuses a manifest whose ids do not match their bodies', async () => {
    const bad = path.join(env.tmpDir, 'bad-manifest.json');
    const operations = [{ id: sha(other), name: 'Swapped', type: 'query', body: listed }];
    await writeFile(
      bad,
      JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations }),
    );
    expect(() => PersistedOperations.load(bad)).toThrow(/Swapped does not match its id/);
    expect(PersistedOperations.load(manifestPath).size).toBe(1);
  });
});
