/**
 * A session check while the Redis primary dies (chaos run 6, docs/reliability.md): the sessions
 * service on the cluster's Redis (TLS primary and replica under three sentinels) and lib's cached
 * liveness in front of it, as in every gateway and subgraph. While Sentinel promotes the replica the
 * sessions service cannot read the session and answers an error; the verifier must refuse that
 * request retryably, never as UNAUTHENTICATED "Session revoked or expired", remember nothing, and
 * accept the same session once the promoted replica answers.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AccessTokenVerifier, CachedSessionLiveness } from '../../../lib/auth.js';
import { AppError, ErrorCode } from '../../../lib/errors.js';
import type { Service } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createRedis, type Redis } from '../../../lib/redis.js';
import {
  startSentinelRedis,
  type SentinelRedisVars,
  type TestCluster,
} from '../../../test/support/cluster.js';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { gql } from '../../../test/support/platform.js';
import { createTestSigner } from '../../../test/support/tokens.js';
import { eventually } from '../../../test/support/wait.js';
import type { SessionsConfig } from '../src/config.js';
import { createSessionsService } from '../src/service.js';

let dir = '';
let env: TestEnv;
let tc: TestCluster;
let sentinel: SentinelRedisVars;
let config: SessionsConfig;
let sessions: Service;
let sessionsUrl = '';
let redis: Redis;

beforeAll(async () => {
  ({ dir, tc, redis: sentinel } = await startSentinelRedis('liveness-failover'));
  env = await createTestEnv('liveness_failover');
  config = { ...env.config, ...sentinel };
  sessions = createSessionsService(config);
  sessionsUrl = (await sessions.start()).url;
  redis = createRedis(config, 'commands', `${config.REDIS_PREFIX}liveness-failover:`);
  redis.on('error', () => undefined);
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await sessions?.stop();
  await tc?.cluster.stop();
  await env?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('refuses a check made while the primary is down retryably, never as a lost session; the session works after the failover', async () => {
  const opened = await gql<{ openSession: { sessionId: string } }>(
    `${sessionsUrl}/graphql`,
    'mutation($input: OpenSessionInput!) { openSession(input: $input) { sessionId } }',
    { input: { userId: randomUUID(), tenantId: randomUUID(), method: 'password' } },
    undefined,
    { 'x-service-token': config.SERVICE_TOKEN },
  );
  const sessionId = opened.data?.openSession.sessionId ?? '';
  expect(sessionId).not.toBe('');
  // The session reached the replica before the kill (a write after it, acknowledged by the replica).
  await redis.set('marker', '1');
  expect(await redis.wait(1, 5000)).toBe(1);

  const signer = await createTestSigner(config, 'k');
  const token = await signer.sign({ sessionId });
  const liveness = new CachedSessionLiveness(config, createLogger(config, 'test'));
  const verifier = new AccessTokenVerifier(config, liveness, signer.jwks);

  await tc.cluster.kill('redis-1');
  // Asked at once: Sentinel needs at least down-after-milliseconds (2 s) before it promotes, and the
  // sessions service's Redis client gives up on a command after a few reconnect attempts before that.
  const during = await verifier.verifyToken(token).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(during).toBeInstanceOf(AppError);
  expect(during).toMatchObject({ code: ErrorCode.Internal, details: { retryAfter: 1 } });
  expect(liveness.hasEnded(sessionId)).toBe(false);

  // Retried as a client retries INTERNAL_SERVER_ERROR; UNAUTHENTICATED at any point fails the test.
  const claims = await eventually(
    () =>
      verifier.verifyToken(token).catch((err: unknown) => {
        if (err instanceof AppError && err.code === ErrorCode.Internal) return undefined;
        throw err;
      }),
    'the session accepted after the failover',
    30_000,
    100,
  );
  expect(claims.sessionId).toBe(sessionId);
}, 60_000);
