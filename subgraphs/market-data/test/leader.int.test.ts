import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type Redis } from '../../../lib/redis.js';
import { freePorts } from '../../../test/support/env.js';
import type { MarketDataService } from '../src/service.js';
import { decodeTick, type Tick } from '../../../contracts/market-tick.js';
import { createMarketTestEnv, type MarketTestEnv } from './helpers.js';
import { eventually } from '../../../test/support/wait.js';

let env: MarketTestEnv;
let sub: Redis;
const received: Tick[] = [];
const running: MarketDataService[] = [];

/** Waits until `cond` holds (test/support's eventually over a boolean). */
const waitFor = (cond: () => boolean, what: string): Promise<true> =>
  eventually(() => (cond() ? true : undefined), what);

async function startReplica(id: string): Promise<MarketDataService> {
  const [port] = await freePorts(1);
  const svc = env.service({ instanceId: id }, port);
  await svc.start();
  running.push(svc);
  return svc;
}

beforeAll(async () => {
  env = await createMarketTestEnv('md_leader', {
    MARKET_FEED_TICKS_PER_SECOND: '200',
    MARKET_FEED_SYMBOLS: 'AAPL,MSFT,BTCUSD',
    MARKET_FEED_LOCK_TTL_MS: '1000',
    MARKET_TICK_FLUSH_MS: '50',
  });
  sub = createRedis(env.config, 'subscriber');
  sub.on('pmessage', (_p: string, _ch: string, message: string) => {
    const t = decodeTick(message);
    if (t) received.push(t);
  });
  await sub.psubscribe(`${env.config.REDIS_PREFIX}market:ticks:*`);
});

afterAll(async () => {
  for (const s of running) await s.stop().catch(() => undefined);
  sub?.disconnect();
  await env?.cleanup();
});

describe('feed leadership', () => {
  it('has exactly one producer while two replicas run, and fails over when the leader stops', async () => {
    const a = await startReplica('replica-a');
    await waitFor(() => a.runtime().feed?.leading === true, 'replica a to lead');
    const b = await startReplica('replica-b');
    received.length = 0;
    // Both alive for a while: every tick comes from the leader, none from the follower.
    await waitFor(() => received.length >= 300, '300 ticks');
    expect(new Set(received.map((t) => t.producer))).toEqual(new Set(['replica-a']));
    expect(b.runtime().feed?.leading).toBe(false);
    expect(await b.runtime().metrics.ticksPublished.get()).toMatchObject({ values: [{ value: 0 }] });

    // Graceful stop releases the lock: b takes over.
    await a.stop();
    running.splice(running.indexOf(a), 1);
    const mark = received.length;
    await waitFor(
      () => received.slice(mark).some((t) => t.producer === 'replica-b' && t.symbol === 'BTCUSD'),
      'replica b to publish',
    );
    expect(b.runtime().feed?.leading).toBe(true);
    // After the handover only b publishes.
    const afterHandover = received.slice(
      received.findIndex((t, i) => i >= mark && t.producer === 'replica-b'),
    );
    expect(afterHandover.every((t) => t.producer === 'replica-b')).toBe(true);
    // b continued from a's last quote instead of jumping back to the base price.
    const lastA = [...received.slice(0, mark)].reverse().find((t) => t.symbol === 'BTCUSD')!;
    const firstB = afterHandover.find((t) => t.symbol === 'BTCUSD')!;
    expect(Math.abs(Number(firstB.price) / Number(lastA.price) - 1)).toBeLessThan(0.01);
  });

  it('takes over from a crashed leader once its lock expires, never publishing next to it', async () => {
    const c = await startReplica('replica-c');
    const leader = running.find((s) => s.runtime().feed?.leading)!;
    const leaderId = leader.runtime().instanceId;
    expect(c.runtime().feed?.leading).toBe(false);
    await leader.crash();
    running.splice(running.indexOf(leader), 1);
    const mark = received.length;
    await waitFor(() => received.slice(mark).some((t) => t.producer === 'replica-c'), 'replica c to publish');
    expect(received.slice(mark).every((t) => t.producer === 'replica-c' || t.producer === leaderId)).toBe(
      true,
    );
    // No interleaving: once c published, the old leader never did again.
    const firstC = received.findIndex((t, i) => i >= mark && t.producer === 'replica-c');
    expect(received.slice(firstC).some((t) => t.producer === leaderId)).toBe(false);
  });

  it('refuses to publish for a replica that no longer holds the lock (fenced)', async () => {
    const { TickPublisher } = await import('../src/feed/tick.publisher.js');
    const redis = createRedis(env.config, 'commands', `${env.config.REDIS_PREFIX}market:`);
    try {
      const publisher = new TickPublisher(
        redis,
        'feed:leader',
        'quotes',
        `${env.config.REDIS_PREFIX}market:ticks:`,
      );
      const t: Tick = {
        symbol: 'AAPL',
        price: '1.00',
        bid: '1.00',
        ask: '1.01',
        size: '1',
        ts: Date.now(),
        seq: 1,
        producer: 'intruder',
      };
      expect(await publisher.publish([t], 'not-the-leader')).toEqual({ published: 0, lostLock: true });
      await new Promise((r) => setTimeout(r, 200));
      expect(received.some((x) => x.producer === 'intruder')).toBe(false);
    } finally {
      redis.disconnect();
    }
  });
});
