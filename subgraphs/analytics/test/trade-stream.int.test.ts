/**
 * The trade stream consumer against real Redis: a poison entry (its handling always fails) is
 * delivered exactly ANALYTICS_TRADE_STREAM_MAX_DELIVERIES times, then moved to the dead-letter stream
 * and acknowledged, while entries of other tenants, before and after it, are handled; a malformed
 * entry is dead-lettered at once; an outage is retried in place without using up deliveries; entries
 * left pending by a crashed replica are taken over; a page is handled per tenant in one batch, and a
 * poison entry inside a batch is isolated by handling that batch's entries one by one. The handler
 * stands in for the database (all of a batch or nothing, as one transaction).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/logger.js';
import { createMetrics } from '../../../lib/metrics.js';
import { createRedis, type Redis } from '../../../lib/redis.js';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { eventually } from '../../../test/support/wait.js';
import { createAnalyticsMetrics, type AnalyticsMetrics } from '../src/analytics.metrics.js';
import type { TradeEvent } from '../src/trade-event.js';
import {
  CONSUMER_GROUP,
  DEAD_LETTER_SUFFIX,
  TradeStreamConsumer,
  type TradeBatchHandler,
} from '../src/trade-stream.consumer.js';

const MAX_DELIVERIES = 3;

let env: TestEnv;
let redis: Redis;
const running: { consumer: TradeStreamConsumer; blocking: Redis }[] = [];
let n = 0;

beforeAll(async () => {
  env = await createTestEnv('trade_stream');
  redis = createRedis(env.config, 'commands');
});

afterEach(async () => {
  for (const r of running.splice(0)) await r.consumer.stop();
});

afterAll(async () => {
  redis?.disconnect();
  await env?.cleanup();
});

interface Setup {
  stream: string;
  dead: string;
  metrics: AnalyticsMetrics;
  registry: ReturnType<typeof createMetrics>['registry'];
}

/** A fresh stream per test (the file owns its prefix). */
function setup(): Setup {
  n += 1;
  const m = createMetrics('analytics-test');
  const stream = `${env.config.REDIS_PREFIX}trading:trades:${n}`;
  return {
    stream,
    dead: `${stream}${DEAD_LETTER_SUFFIX}`,
    metrics: createAnalyticsMetrics(m.registry),
    registry: m.registry,
  };
}

/**
 * A batch handler from a per-event one, atomic like the real one's transaction: `onCommit` sees a
 * batch's events only when every one of them succeeded; `batches` records each batch's size.
 */
function atomic(
  handle: (e: TradeEvent) => Promise<string>,
  onCommit: (e: TradeEvent) => void = () => undefined,
  batches: number[] = [],
): TradeBatchHandler {
  return async (events) => {
    batches.push(events.length);
    const results: string[] = [];
    for (const e of events) results.push(await handle(e));
    events.forEach(onCommit);
    return results;
  };
}

async function startConsumer(
  s: Setup,
  handle: TradeBatchHandler,
  name = `consumer-${randomUUID().slice(0, 8)}`,
  batchWaitMs = 0,
): Promise<void> {
  const blocking = createRedis(env.config, 'commands');
  const consumer = new TradeStreamConsumer(
    blocking,
    redis,
    s.stream,
    name,
    handle,
    s.metrics,
    createLogger({ LOG_LEVEL: 'silent' }, 'analytics-test'),
    { maxDeliveries: MAX_DELIVERIES, retryMs: 100, blockMs: 200, batchWaitMs },
  );
  await consumer.start();
  running.push({ consumer, blocking });
}

const trade = (tenantId: string, tradeId: string, accountId = randomUUID()): string[] => [
  'tenantId',
  tenantId,
  'accountId',
  accountId,
  'symbol',
  'AAPL',
  'side',
  'BUY',
  'quantity',
  '1',
  'price',
  '100',
  'executedAt',
  '2026-12-01T12:00:00Z',
  'tradeId',
  tradeId,
];

async function add(stream: string, fields: string[]): Promise<string> {
  const id = await redis.xadd(stream, '*', ...fields);
  if (!id) throw new Error('XADD returned no id');
  return id;
}

async function pendingCount(stream: string): Promise<number> {
  const [count] = (await redis.xpending(stream, CONSUMER_GROUP)) as [number, ...unknown[]];
  return count;
}

async function deadLetters(dead: string): Promise<Record<string, string>[]> {
  const entries = (await redis.xrange(dead, '-', '+')) as [string, string[]][];
  return entries.map(([, f]) => {
    const o: Record<string, string> = {};
    for (let i = 0; i + 1 < f.length; i += 2) o[f[i]!] = f[i + 1]!;
    return o;
  });
}

async function counter(s: Setup, name: string, labels: string): Promise<number> {
  const text = await s.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('trade stream dead letters', () => {
  it('a poison entry is delivered MAX_DELIVERIES times, then dead-lettered; other tenants are handled meanwhile', async () => {
    const s = setup();
    const poisonTenant = randomUUID();
    const otherTenant = randomUUID();
    const handled: string[] = [];
    let poisonAttempts = 0;
    await startConsumer(
      s,
      atomic((e) => {
        if (e.tenantId === poisonTenant) {
          poisonAttempts += 1;
          return Promise.reject(Object.assign(new Error('numeric field overflow'), { code: '22003' }));
        }
        handled.push(e.tradeId);
        return Promise.resolve('applied');
      }),
    );
    await redis.xadd(s.stream, '*', ...trade(otherTenant, 'before'));
    const poison = trade(poisonTenant, 'poison');
    const poisonId = await add(s.stream, poison);
    const junkId = await add(s.stream, ['junk', '1']);
    await redis.xadd(s.stream, '*', ...trade(otherTenant, 'after'));

    // The entry behind the poison one is handled without waiting for the poison one's retries.
    await eventually(() => (handled.includes('after') ? true : undefined), 'the valid entries');
    const letters = await eventually(async () => {
      const d = await deadLetters(s.dead);
      return d.length === 2 ? d : undefined;
    }, 'two dead letters');
    expect(handled).toEqual(['before', 'after']);
    const byId = new Map(letters.map((l) => [l['id'], l]));
    expect(byId.get(junkId)).toMatchObject({ reason: 'malformed', deliveries: '1' });
    expect(JSON.parse(byId.get(junkId)!['fields']!)).toEqual(['junk', '1']);
    expect(byId.get(poisonId)).toMatchObject({
      reason: 'max_deliveries',
      deliveries: String(MAX_DELIVERIES),
      error: 'numeric field overflow',
    });
    expect(JSON.parse(byId.get(poisonId)!['fields']!)).toEqual(poison);
    expect(poisonAttempts).toBe(MAX_DELIVERIES);
    expect(await pendingCount(s.stream)).toBe(0);
    expect(await counter(s, 'analytics_trade_stream_dead_letters_total', 'reason="max_deliveries"')).toBe(1);
    expect(await counter(s, 'analytics_trade_stream_dead_letters_total', 'reason="malformed"')).toBe(1);
    expect(await counter(s, 'analytics_trades_consumed_total', 'result="error"')).toBe(MAX_DELIVERIES);
  });

  it('an outage is retried in place: the entry is handled, no delivery is used up', async () => {
    const s = setup();
    let failures = 0;
    const handled: string[] = [];
    await startConsumer(
      s,
      atomic((e) => {
        if (failures < MAX_DELIVERIES + 2) {
          failures += 1;
          return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
        }
        handled.push(e.tradeId);
        return Promise.resolve('applied');
      }),
    );
    await redis.xadd(s.stream, '*', ...trade(randomUUID(), 'during-outage'));
    await eventually(() => (handled.length === 1 ? true : undefined), 'the entry after the outage');
    // More failed attempts than MAX_DELIVERIES, yet handled, not dead-lettered: none counted as a delivery.
    expect(failures).toBeGreaterThan(MAX_DELIVERIES);
    expect(handled).toEqual(['during-outage']);
    expect(await deadLetters(s.dead)).toEqual([]);
    await eventually(async () => ((await pendingCount(s.stream)) === 0 ? true : undefined), 'the ack');
  });

  it('entries left pending by a crashed replica are taken over and handled', async () => {
    const s = setup();
    await redis.xgroup('CREATE', s.stream, CONSUMER_GROUP, '0', 'MKSTREAM');
    await redis.xadd(s.stream, '*', ...trade(randomUUID(), 'orphan'));
    // A replica read it and died before acknowledging.
    await redis.xreadgroup('GROUP', CONSUMER_GROUP, 'crashed', 'COUNT', 10, 'STREAMS', s.stream, '>');
    expect(await pendingCount(s.stream)).toBe(1);
    const handled: string[] = [];
    await startConsumer(
      s,
      atomic((e) => {
        handled.push(e.tradeId);
        return Promise.resolve('applied');
      }),
    );
    await eventually(() => (handled.length === 1 ? true : undefined), 'the orphan to be handled');
    expect(handled).toEqual(['orphan']);
    await eventually(async () => ((await pendingCount(s.stream)) === 0 ? true : undefined), 'the ack');
  });

  it('handles a page per tenant in one batch; a poison entry in a batch is isolated and dead-lettered', async () => {
    const s = setup();
    const [x, y] = [randomUUID(), randomUUID()];
    const account = randomUUID();
    // Added before the consumer starts (the group begins at 0), so its first page holds all of them.
    const ids: Record<string, string> = {};
    for (const [tenant, id] of [
      [x, 'x1'],
      [y, 'y1'],
      [x, 'x2'],
      [x, 'poison'],
      [y, 'y2'],
      [x, 'x3'],
    ] as const) {
      ids[id] = await add(s.stream, trade(tenant, id, account));
    }
    const committed: string[] = [];
    const batches: number[] = [];
    await startConsumer(
      s,
      atomic(
        (e) =>
          e.tradeId === 'poison'
            ? Promise.reject(Object.assign(new Error('numeric field overflow'), { code: '22003' }))
            : Promise.resolve('applied'),
        (e) => committed.push(e.tradeId),
        batches,
      ),
    );
    const letters = await eventually(async () => {
      const d = await deadLetters(s.dead);
      return d.length === 1 ? d : undefined;
    }, 'the poison entry dead-lettered');
    expect(letters[0]).toMatchObject({ id: ids['poison'], reason: 'max_deliveries' });
    // x's four entries in one batch, which fails, then one by one; y's two in one batch; then the
    // poison entry's redeliveries alone. Each good entry is committed once.
    expect(batches.slice(0, 6)).toEqual([4, 1, 1, 1, 1, 2]);
    expect(committed.filter((t) => t.startsWith('y'))).toEqual(['y1', 'y2']);
    expect(committed.filter((t) => t.startsWith('x'))).toEqual(['x1', 'x2', 'x3']);
    expect(await pendingCount(s.stream)).toBe(0);
    expect(await counter(s, 'analytics_trades_consumed_total', 'result="applied"')).toBe(5);
    expect(await counter(s, 'analytics_trades_consumed_total', 'result="error"')).toBe(MAX_DELIVERIES);
  });
});
