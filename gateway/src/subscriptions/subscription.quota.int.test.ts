/**
 * Subscription caps in real Redis, as two gateway replicas see them: counts are shared, released
 * counts free room, and the counts of a replica that dies without releasing expire with its lease
 * while a live replica's heartbeat keeps its own.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, processEnv } from '../../../lib/config.js';
import { AppError } from '../../../lib/errors.js';
import { createRedis, type Redis } from '../../../lib/redis.js';
import { eventually } from '../../../test/support/wait.js';
import { SubscriptionQuota, type QuotaSubject } from './subscription.quota.js';

const config = loadConfig({ ...processEnv(), SERVICE_TOKEN: randomBytes(32).toString('hex') });
const prefix = `test:subs_quota_${randomUUID().slice(0, 8)}:`;
const clients: Redis[] = [];
const quotas: SubscriptionQuota[] = [];
const logger = pino({ level: 'silent' });

function replica(limits: { maxPerUser: number; maxPerIp: number }, leaseMs = 30_000): SubscriptionQuota {
  const redis = createRedis(config, 'commands', prefix);
  clients.push(redis);
  const q = new SubscriptionQuota({ redis, logger, leaseMs, ...limits });
  quotas.push(q);
  return q;
}

async function refusal(p: Promise<void>): Promise<AppError | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

afterAll(async () => {
  for (const q of quotas) q.stop();
  const raw = createRedis(config, 'commands');
  const keys = await raw.keys(`${prefix}*`);
  if (keys.length > 0) await raw.del(...keys);
  raw.disconnect();
  for (const c of clients) c.disconnect();
});

describe('SubscriptionQuota', () => {
  it('shares the per-user and per-IP counts between replicas and frees room on release', async () => {
    const [a, b] = [replica({ maxPerUser: 3, maxPerIp: 4 }), replica({ maxPerUser: 3, maxPerIp: 4 })];
    const alice: QuotaSubject = { userId: `u-${randomUUID()}`, ip: '198.51.100.1' };
    const bob: QuotaSubject = { userId: `u-${randomUUID()}`, ip: '198.51.100.1' };
    await a.acquire(alice);
    await a.acquire(alice);
    await b.acquire(alice);
    const user = await refusal(b.acquire(alice));
    expect(user?.code).toBe('QUOTA_EXCEEDED');
    expect(user?.message).toBe('Live subscriptions per user exceed the limit of 3');
    expect(user?.details).toEqual({ limit: 'subscriptions_per_user', max: 3 });

    // Same IP, another user: the IP has room for one more.
    await b.acquire(bob);
    const ip = await refusal(a.acquire(bob));
    expect(ip?.message).toBe('Live subscriptions per client IP exceed the limit of 4');
    expect(ip?.details).toEqual({ limit: 'subscriptions_per_ip', max: 4 });

    // A refused acquire counted nothing: one release on replica A makes room for exactly one.
    await a.release(alice);
    await b.acquire(alice);
    expect((await refusal(a.acquire(alice)))?.code).toBe('QUOTA_EXCEEDED');
  });

  it('refuses a subject at its cap on this replica alone without asking Redis', async () => {
    const q = replica({ maxPerUser: 2, maxPerIp: 100 });
    const carol: QuotaSubject = { userId: `u-${randomUUID()}`, ip: '198.51.100.2' };
    await q.acquire(carol);
    await q.acquire(carol);
    // Redis gone: only the counts this replica holds can answer now.
    clients.at(-1)?.disconnect();
    const local = await refusal(q.acquire(carol));
    expect(local?.details).toEqual({ limit: 'subscriptions_per_user', max: 2 });
    // Below its cap here, the replica still has to ask Redis (which fails).
    await expect(q.acquire({ userId: `u-${randomUUID()}`, ip: '198.51.100.2' })).rejects.not.toBeInstanceOf(
      AppError,
    );
  });

  it('drops the counts of a replica that died, and keeps those of a live one', async () => {
    const leaseMs = 600;
    const [dead, live, other] = [
      replica({ maxPerUser: 2, maxPerIp: 100 }, leaseMs),
      replica({ maxPerUser: 2, maxPerIp: 100 }, leaseMs),
      replica({ maxPerUser: 2, maxPerIp: 100 }, leaseMs),
    ];
    live.start();
    const carol: QuotaSubject = { userId: `u-${randomUUID()}`, ip: '198.51.100.2' };
    const dave: QuotaSubject = { userId: `u-${randomUUID()}`, ip: '198.51.100.3' };
    // `dead` never beats: what a crash leaves behind.
    await dead.acquire(carol);
    await dead.acquire(carol);
    await live.acquire(dave);
    await live.acquire(dave);
    expect((await refusal(other.acquire(carol)))?.code).toBe('QUOTA_EXCEEDED');
    await eventually(
      async () => ((await refusal(other.acquire(carol))) === undefined ? true : undefined),
      'the dead replica lease to expire',
    );
    // Several leases later, the live replica's heartbeat still holds both of its counts.
    await new Promise((r) => setTimeout(r, leaseMs * 4));
    expect((await refusal(other.acquire(dave)))?.code).toBe('QUOTA_EXCEEDED');
  });

  it('corrects a lost release at the next heartbeat', async () => {
    const [a, b] = [replica({ maxPerUser: 1, maxPerIp: 100 }), replica({ maxPerUser: 1, maxPerIp: 100 })];
    const erin: QuotaSubject = { userId: `u-${randomUUID()}`, ip: '198.51.100.4' };
    await a.acquire(erin);
    // The release reaches Redis only through the heartbeat: as if the RELEASE call had failed.
    const redis = clients.at(-2);
    expect(redis).toBeDefined();
    redis!.disconnect();
    await a.release(erin);
    await redis!.connect();
    expect((await refusal(b.acquire(erin)))?.code).toBe('QUOTA_EXCEEDED');
    await a.heartbeat();
    await b.acquire(erin);
  });
});
