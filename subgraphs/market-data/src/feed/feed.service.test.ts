/**
 * The feed leader while Redis is unreachable (a Sentinel failover): a failed publish drops its ticks
 * but keeps the lead while the lease may still be valid, and a failed lock check is retried soon, not
 * a third of the TTL later. A scripted lease and publisher stand in for Redis (fake timers).
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Registry } from '../../../../lib/metrics.js';
import type { RedisLease } from '../../../../lib/redis-lease.js';
import type { Tick } from '../../../../contracts/market-tick.js';
import { createMarketMetrics, type MarketMetrics } from '../market.metrics.js';
import { FeedService } from './feed.service.js';
import { sleep, type FeedProvider } from './provider.js';
import type { TickPublisher } from './tick.publisher.js';

const TTL_MS = 3000;

/** A lease whose Redis is up or down; while down every call rejects, as ioredis does. */
class ScriptedLease {
  readonly token = 'me';
  redisUp = true;
  calls = 0;
  private deadline = 0;

  get held(): boolean {
    return this.deadline > Date.now();
  }
  acquire(): Promise<boolean> {
    return this.claim();
  }
  renew(): Promise<boolean> {
    return this.claim();
  }
  release(): Promise<void> {
    this.deadline = 0;
    return Promise.resolve();
  }
  abandon(): void {
    this.deadline = 0;
  }
  private claim(): Promise<boolean> {
    this.calls++;
    if (!this.redisUp) return Promise.reject(new Error('Connection is closed.'));
    this.deadline = Date.now() + TTL_MS;
    return Promise.resolve(true);
  }
}

let lease: ScriptedLease;
let metrics: MarketMetrics;
let published: Tick[];
let providerRuns: number;

const tickAt = (ts: number): Tick => ({
  symbol: 'AAPL',
  price: '100',
  bid: '99.99',
  ask: '100.01',
  size: '1',
  ts,
  seq: ts,
  producer: 'me',
});

/** One tick every 100 ms until aborted. */
const provider: FeedProvider = {
  name: 'test',
  async run(sink, signal) {
    providerRuns++;
    while (!signal.aborted) {
      await sleep(100, signal);
      if (!signal.aborted) await sink([tickAt(Date.now())]);
    }
  },
};

function feed(): FeedService {
  const publisher = {
    publish: (ticks: readonly Tick[]) => {
      if (!lease.redisUp) return Promise.reject(new Error('Connection is closed.'));
      published.push(...ticks);
      return Promise.resolve({ published: ticks.length, lostLock: false });
    },
  };
  return new FeedService(
    lease as unknown as RedisLease,
    publisher as unknown as TickPublisher,
    { enqueue: (ticks) => ticks.length },
    () => Promise.resolve(provider),
    metrics,
    pino({ level: 'silent' }),
    TTL_MS,
  );
}

async function droppedForPublish(): Promise<number> {
  const v = await metrics.ticksDropped.get();
  return v.values.find((x) => x.labels['reason'] === 'publish_failed')?.value ?? 0;
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
  lease = new ScriptedLease();
  metrics = createMarketMetrics(new Registry());
  published = [];
  providerRuns = 0;
});

afterEach(() => {
  vi.useRealTimers();
});

describe('the feed leader while Redis is unreachable', () => {
  it('drops unpublishable ticks but keeps leading through an outage shorter than its lease', async () => {
    const f = feed();
    f.start();
    await vi.advanceTimersByTimeAsync(500);
    expect(f.leading).toBe(true);
    lease.redisUp = false;
    await vi.advanceTimersByTimeAsync(2000);
    expect(await droppedForPublish()).toBeGreaterThan(0);
    expect(f.leading).toBe(true);
    const before = published.length;
    lease.redisUp = true;
    await vi.advanceTimersByTimeAsync(300);
    // The same provider run publishes again: no step down, no restart.
    expect(published.length).toBeGreaterThan(before);
    expect(providerRuns).toBe(1);
    await f.stop();
  });

  it('steps down once the lease may have expired', async () => {
    const f = feed();
    f.start();
    await vi.advanceTimersByTimeAsync(500);
    lease.redisUp = false;
    await vi.advanceTimersByTimeAsync(TTL_MS + 500);
    expect(f.leading).toBe(false);
    await f.stop();
  });

  it('checks the lock again soon after a failed check, not a third of the TTL later', async () => {
    lease.redisUp = false;
    const f = feed();
    f.start();
    await vi.advanceTimersByTimeAsync(50);
    expect(lease.calls).toBe(1);
    lease.redisUp = true;
    // Well before TTL/3 (1 s): the retry takes the lead.
    await vi.advanceTimersByTimeAsync(250);
    expect(lease.calls).toBe(2);
    expect(f.leading).toBe(true);
    await f.stop();
  });
});
