/**
 * Rate limits when the gateway's Redis cannot be reached (both nodes of the cluster's Redis killed, so
 * no replica is promoted and the counters can never sync): the gateway fails closed, as before, but
 * retryably, like a session it cannot check: HTTP 503, `Retry-After`, INTERNAL_SERVER_ERROR with
 * `retryAfter`. It answered a masked 500 "Internal server error" before, which a client cannot tell
 * from a bug; during a Redis failover that is what came back for a second or two after the 2 s of
 * unsynced counters (docs/reliability.md, "Queries after a Redis failover").
 */
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startSentinelRedis, type SentinelRedisVars, type TestCluster } from '../../test/support/cluster.js';
import { eventually } from '../../test/support/wait.js';
import { post, startGatewayBed, type GatewayBed } from './support/harness.js';

let dir = '';
let tc: TestCluster;
let sentinel: SentinelRedisVars;
let bed: GatewayBed;

beforeAll(async () => {
  ({ dir, tc, redis: sentinel } = await startSentinelRedis('gateway-rl-down'));
  bed = await startGatewayBed('gateway_rl_down');
}, 120_000);

afterAll(async () => {
  await bed?.stop();
  await tc?.cluster.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('refuses with 503 and Retry-After, not a masked 500, once the counters cannot sync', async () => {
  const { url } = await bed.gateway({ ...sentinel }, 'down');
  const graphql = `${url}/graphql`;
  expect((await post(graphql, { query: '{ hello }' })).status).toBe(200);

  await tc.cluster.kill('redis-1');
  await tc.cluster.kill('redis-2');
  // Answered from memory until the counters have gone unsynced for longer than staleMs.
  const refused = await eventually(
    async () => {
      const res = await post(graphql, { query: '{ hello }' });
      return res.status === 200 ? undefined : res;
    },
    'a refusal once the counters are stale',
    30_000,
    100,
  );
  expect(refused.status).toBe(503);
  expect(refused.headers.get('retry-after')).toBe('1');
  expect(refused.body.errors?.[0]?.extensions).toMatchObject({
    code: 'INTERNAL_SERVER_ERROR',
    retryAfter: 1,
  });
  expect(refused.body.errors?.[0]?.message).toMatch(/Rate limits could not be checked/);

  // graphql-ws: connection_init is counted by the same stale counters, so the socket closes with
  // 1013 Try Again Later (which clients retry), not with an internal error.
  const ws = new WebSocket(`${graphql.replace('http://', 'ws://')}`, 'graphql-transport-ws');
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
  const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
  expect(code).toBe(1013);
  expect(reason.toString()).toMatch(/Rate limits could not be checked/);
}, 60_000);
