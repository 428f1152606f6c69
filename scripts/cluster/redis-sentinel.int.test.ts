/**
 * The cluster's Redis: a TLS-only primary and replica under three TLS sentinels, reached through
 * lib/redis.ts's Sentinel support. Killing the primary (SIGKILL) promotes the replica; every client
 * role reconnects to it on its own, and what was written before the kill is still there.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type Redis } from '../../lib/redis.js';
import { startTestCluster, type TestCluster } from '../../test/support/cluster.js';
import { eventually } from '../../test/support/wait.js';

let dir = '';
let tc: TestCluster;
const clients: Redis[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-sentinel-'));
  tc = await startTestCluster(dir, {}, (p) => p.kind === 'redis' || p.kind === 'sentinel');
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await tc?.cluster.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('Redis through the sentinels, over TLS', () => {
  it('follows a SIGKILLed primary to the promoted replica, with the data and every client role', async () => {
    const commands = createRedis(tc.config, 'commands', 'sentinel-test:');
    const subscriber = createRedis(tc.config, 'subscriber');
    const bullmq = createRedis(tc.config, 'bullmq');
    clients.push(commands, subscriber, bullmq);
    for (const c of clients) c.on('error', () => undefined);

    await commands.set('before', 'kept');
    // The write reached the replica before the kill (what a failover keeps).
    expect(await commands.wait(1, 5000)).toBe(1);
    const received: string[] = [];
    await subscriber.subscribe('sentinel-test:ch');
    subscriber.on('message', (_ch: string, msg: string) => received.push(msg));
    const primaryPort = tc.cluster.plan.ports.redis[0];
    expect((await commands.info('server')).includes(`tcp_port:${primaryPort}`)).toBe(true);

    await tc.cluster.kill('redis-1');

    await eventually(
      async () => ((await commands.set('after', 'ok').catch(() => null)) === 'OK' ? true : undefined),
      'writes after failover',
      30_000,
      200,
    );
    expect(await commands.get('before')).toBe('kept');
    expect((await commands.info('server')).includes(`tcp_port:${tc.cluster.plan.ports.redis[1]}`)).toBe(true);
    await eventually(
      async () => {
        await commands.publish('sentinel-test:ch', 'tick');
        return received.includes('tick') ? true : undefined;
      },
      'subscriber re-subscribed on the new primary',
      15_000,
      200,
    );

    const workerConnection = createRedis(tc.config, 'bullmq');
    clients.push(workerConnection);
    const queue = new Queue('sentinel-test', { connection: bullmq, prefix: 'sentinel-test' });
    const worker = new Worker('sentinel-test', (job) => Promise.resolve(job.data as unknown), {
      connection: workerConnection,
      prefix: 'sentinel-test',
    });
    try {
      const job = await queue.add('j', { n: 1 });
      await eventually(
        async () => ((await job.isCompleted()) ? true : undefined),
        'a BullMQ job after failover',
        15_000,
        100,
      );
    } finally {
      await worker.close();
      await queue.close();
    }
  }, 90_000);
});
