/**
 * A gateway that starts while Sentinel promotes the replica (chaos run 7, docs/reliability.md): the
 * gateway subscribes to the revocation channel on fresh subscriber connections while it starts, the
 * last of them after its HTTP server (and `/health`) is up. A SUBSCRIBE failed after a few reconnect
 * attempts to the dead primary, the start threw, and the process exited. It must wait for the promoted
 * replica and serve, and revocations published on it must reach it.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { channels } from '../../contracts/redis-names.js';
import type { Config } from '../../lib/config.js';
import { createRedis, type Redis } from '../../lib/redis.js';
import { startSentinelRedis, type SentinelRedisVars, type TestCluster } from '../../test/support/cluster.js';
import { createTestEnv, type TestEnv } from '../../test/support/env.js';
import { eventually } from '../../test/support/wait.js';
import { createGateway, type GatewayService } from '../src/gateway.js';

let dir = '';
let env: TestEnv;
let tc: TestCluster;
let sentinel: SentinelRedisVars;
let config: Config;
let gateway: GatewayService | undefined;
const clients: Redis[] = [];

beforeAll(async () => {
  ({ dir, tc, redis: sentinel } = await startSentinelRedis('gateway-failover'));
  env = await createTestEnv('gateway_failover');
  config = { ...env.config, ...sentinel };
}, 120_000);

afterAll(async () => {
  await gateway?.stop().catch(() => undefined);
  for (const c of clients) c.disconnect();
  await tc?.cluster.stop();
  await env?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('starts through a failover of the Redis primary instead of failing its start', async () => {
  await tc.cluster.kill('redis-1');
  // Started at once: Sentinel promotes no sooner than down-after-milliseconds (2 s) after the kill, and
  // the start's subscribers meet the dead primary first.
  gateway = createGateway(config);
  const { port } = await gateway.start();
  expect(gateway.state).toBe('serving');
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  expect(health.status).toBe(200);
  // The promoted replica is the primary now, and the gateway's Redis clients are on it.
  const commands = createRedis(config, 'commands');
  commands.on('error', () => undefined);
  clients.push(commands);
  expect(await commands.set(`${config.REDIS_PREFIX}after`, 'ok')).toBe('OK');
  expect((await commands.info('server')).includes(`tcp_port:${tc.cluster.plan.ports.redis[1]}`)).toBe(true);
  // Two subscriber connections: the request path's liveness cache and the graphql-ws server.
  const revoked = channels.sessionRevoked(config.REDIS_PREFIX);
  await eventually(async () => {
    const [, subscribers] = (await commands.pubsub('NUMSUB', revoked)) as [string, number];
    return subscribers >= 2 ? true : undefined;
  }, 'the gateway subscribed to revocations on the promoted replica');
}, 60_000);
