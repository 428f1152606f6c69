/**
 * A Redis client's connection errors go through the service's logger (createRedis with `logger`):
 * one line while they go on and one when the client is ready again, not ioredis' unstructured
 * "[ioredis] Unhandled error event" on stderr for every failed reconnect (a Redis failover printed
 * dozens per service in the chaos logs). A private redis-server is stopped and started again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startTestRedis, type TestRedis } from '../test/support/redis-server.js';
import { createTestEnv, type TestEnv } from '../test/support/env.js';
import { eventually } from '../test/support/wait.js';
import { createRedis, type Redis } from './redis.js';

let dir = '';
let env: TestEnv;
let server: TestRedis;
let client: Redis | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-redis-errors-'));
  env = await createTestEnv('redis_errors');
  server = await startTestRedis(dir);
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
  await env?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('logs a connection outage once through the logger and once when it is over, nothing on stderr', async () => {
  const lines: { msg: string; errors?: number; role?: string }[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as { msg: string });
        done();
      },
    }),
  );
  const stderr = vi.spyOn(console, 'error');
  client = createRedis({ ...env.config, REDIS_URL: server.url }, 'commands', 'errors:', { logger });
  await client.set('k', '1');

  await server.stop();
  // Reconnects fail every 200 ms-2 s (createRedis' retry strategy): several errors, one warning.
  await eventually(
    () => (lines.some((l) => l.msg === 'redis connection failing') ? true : undefined),
    'the outage logged',
    10_000,
    50,
  );
  await new Promise((r) => setTimeout(r, 1500));
  await server.start();
  await eventually(
    () => (lines.some((l) => l.msg === 'redis connection ready again') ? true : undefined),
    'the recovery logged',
    15_000,
    50,
  );
  expect(await client.get('k')).toBe('1');

  const failing = lines.filter((l) => l.msg === 'redis connection failing');
  const ready = lines.filter((l) => l.msg === 'redis connection ready again');
  expect(failing).toHaveLength(1);
  expect(failing[0]?.role).toBe('commands');
  expect(ready).toHaveLength(1);
  // The recovery line counts every failed attempt of the outage, more than the one logged.
  expect(ready[0]?.errors).toBeGreaterThan(1);
  expect(stderr.mock.calls.filter((c) => String(c[0]).includes('[ioredis]'))).toEqual([]);
  stderr.mockRestore();
}, 40_000);
