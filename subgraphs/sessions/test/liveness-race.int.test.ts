/**
 * The revocation race of lib's cached liveness with the real sessions service and Redis pub/sub: a
 * "live" answer held back (by a proxy in front of the sessions service) until the revocation message
 * has arrived must not be believed or cached.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CachedSessionLiveness } from '../../../lib/auth.js';
import type { Service } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createRedis } from '../../../lib/redis.js';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { gql } from '../../../test/support/platform.js';
import { eventually } from '../../../test/support/wait.js';
import { createSessionsService } from '../src/service.js';

let env: TestEnv;
let sessions: Service;
let sessionsUrl: string;
let proxy: http.Server;
let proxyUrl: string;
let subscriber: Redis;
/** Answers the proxy already has from the sessions service, sent on when the test calls them. */
const held = new Map<string, () => void>();

const internal = <T>(query: string, variables: Record<string, unknown>) =>
  gql<T>(`${sessionsUrl}/graphql`, query, variables, undefined, {
    'x-service-token': env.config.SERVICE_TOKEN,
  });

beforeAll(async () => {
  env = await createTestEnv('liveness_race');
  sessions = createSessionsService(env.config);
  sessionsUrl = (await sessions.start()).url;
  proxy = http.createServer((req, res) => {
    void (async () => {
      const upstream = await fetch(`${sessionsUrl}${req.url ?? '/'}`, {
        headers: { 'x-service-token': String(req.headers['x-service-token'] ?? '') },
      });
      const body = await upstream.text();
      const id = decodeURIComponent(req.url?.split('/').pop() ?? '');
      held.set(id, () => {
        if (!res.headersSent)
          res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(body);
      });
    })();
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  subscriber = createRedis(env.config, 'subscriber');
});

afterAll(async () => {
  for (const release of held.values()) release();
  await new Promise((resolve) => proxy?.close(resolve));
  subscriber?.disconnect();
  await sessions?.stop();
  await env?.cleanup();
});

it('discards a live answer that was in flight when the revocation arrived over Redis', async () => {
  const liveness = new CachedSessionLiveness(
    { sessionsUrl: proxyUrl, SERVICE_TOKEN: env.config.SERVICE_TOKEN, SESSION_CACHE_SECONDS: 30 },
    createLogger(env.config, 'test'),
    30_000,
  );
  await liveness.listen(subscriber, env.config.REDIS_PREFIX);
  const opened = await internal<{ openSession: { sessionId: string } }>(
    'mutation($input: OpenSessionInput!) { openSession(input: $input) { sessionId } }',
    { input: { userId: randomUUID(), tenantId: randomUUID(), method: 'password' } },
  );
  const id = opened.data!.openSession.sessionId;

  const answer = liveness.isLive(id);
  // The sessions service has answered "live"; the proxy holds that answer back.
  const release = await eventually(() => held.get(id), 'the live answer to reach the proxy');
  const ended = await internal<{ endSession: boolean }>('mutation($s: ID!) { endSession(sessionId: $s) }', {
    s: id,
  });
  expect(ended.data?.endSession).toBe(true);
  await eventually(() => (liveness.hasEnded(id) ? true : undefined), 'the revocation message');
  release();

  expect(await answer).toBe(false);
  expect(await liveness.isLive(id)).toBe(false);
  expect(held.size).toBe(1); // the end is final: the service was not asked again
});
