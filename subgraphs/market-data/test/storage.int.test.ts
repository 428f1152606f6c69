import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateMinuteBars } from '../src/bar.aggregate.js';
import { Dec, vwapOf } from '../src/decimal.js';
import { GbmSimulator } from '../src/feed/simulator.js';
import type { MarketDataService } from '../src/service.js';
import type { Tick } from '../../../contracts/market-tick.js';
import { createTestPool } from '../../../test/support/env.js';
import { createMarketTestEnv, tick, type MarketTestEnv } from './helpers.js';
import { SIMULATED } from './instruments.js';

let env: MarketTestEnv;
let svc: MarketDataService;
let admin: pg.Pool;

// A fixed hour in the past: 2024-03-05 14:00Z to 15:00Z (its partition is created on demand).
const HOUR = Date.UTC(2024, 2, 5, 14);

beforeAll(async () => {
  env = await createMarketTestEnv('md_storage', {
    MARKET_FEED_ENABLED: 'false',
    MARKET_TICK_RETENTION_DAYS: '7',
  });
  svc = env.service();
  await svc.start();
  admin = createTestPool(env.config.DATABASE_URL.replace('tradesage_app', 'postgres'), 2);
});

afterAll(async () => {
  await admin?.end();
  await svc?.stop();
  await env?.cleanup();
});

/** A one-unit AAPL tick at `ts`, bid 1.00, ask 1.01. */
const tickAt = (ts: number): Tick => tick(ts, '1.00', '1', { ask: '1.01', seq: 1, producer: 't' });

/** The names of market.ticks' day partitions, in order. */
async function tickPartitions(): Promise<string[]> {
  const { rows } = await admin.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'market.ticks'::regclass ORDER BY 1`,
  );
  return rows.map((r) => r.relname);
}

function hourOfTicks(): Tick[] {
  const sim = new GbmSimulator([SIMULATED.AAPL, SIMULATED.BTCUSD], {
    seed: 5,
    ticksPerSecond: 3,
    producer: 'test',
  });
  // 3 ticks/s for an hour: 10,800 ticks, spread over every minute.
  return Array.from({ length: 10_800 }, (_, i) => sim.next(HOUR + Math.floor(i / 3) * 1000 + (i % 3) * 300));
}

describe('tick storage and bars', () => {
  it('writes ticks in batches and rolls 1m bars up to 5m, 1h and 1d exactly', async () => {
    const { writer } = svc.runtime();
    const ticks = hourOfTicks();
    // Out-of-order batches of odd sizes: merging must not depend on arrival order within a bar.
    for (let i = 0; i < ticks.length; i += 1_777) writer.enqueue(ticks.slice(i, i + 1_777).reverse());
    await writer.flush();
    expect(writer.pending).toBe(0);

    const count = await admin.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM market.ticks WHERE ts >= $1 AND ts < $2`,
      [new Date(HOUR), new Date(HOUR + 3_600_000)],
    );
    expect(Number(count.rows[0]!.n)).toBe(ticks.length);

    for (const symbol of ['AAPL', 'BTCUSD']) {
      const mine = ticks.filter((t) => t.symbol === symbol);
      const sums = await admin.query<{
        v1m: string;
        pv1m: string;
        n1m: string;
        v5m: string;
        v1h: string;
        pv1h: string;
        v1d: string;
        pv1d: string;
      }>(
        `SELECT
           (SELECT sum(volume)::text FROM market.bars_1m WHERE symbol = $1 AND bucket >= $2 AND bucket < $3) AS v1m,
           (SELECT sum(pv)::text FROM market.bars_1m WHERE symbol = $1 AND bucket >= $2 AND bucket < $3) AS pv1m,
           (SELECT count(*)::text FROM market.bars_1m WHERE symbol = $1 AND bucket >= $2 AND bucket < $3) AS n1m,
           (SELECT sum(volume)::text FROM market.bars_5m WHERE symbol = $1 AND bucket >= $2 AND bucket < $3) AS v5m,
           (SELECT volume::text FROM market.bars_1h WHERE symbol = $1 AND bucket = $2) AS v1h,
           (SELECT pv::text FROM market.bars_1h WHERE symbol = $1 AND bucket = $2) AS pv1h,
           (SELECT volume::text FROM market.bars_1d WHERE symbol = $1 AND bucket = $4) AS v1d,
           (SELECT pv::text FROM market.bars_1d WHERE symbol = $1 AND bucket = $4) AS pv1d`,
        [symbol, new Date(HOUR), new Date(HOUR + 3_600_000), new Date(Date.UTC(2024, 2, 5))],
      );
      const s = sums.rows[0]!;
      expect(Number(s.n1m)).toBe(60);
      // Sum of the 1m volumes equals the 1h volume (and 5m, and 1d: only this hour was written).
      expect(new Dec(s.v1m).eq(s.v1h)).toBe(true);
      expect(new Dec(s.v5m).eq(s.v1h)).toBe(true);
      expect(new Dec(s.v1d).eq(s.v1h)).toBe(true);
      expect(new Dec(s.pv1m).eq(s.pv1h)).toBe(true);
      expect(new Dec(s.pv1d).eq(s.pv1h)).toBe(true);

      // VWAP of the hour equals a direct computation from the raw ticks (in memory and in SQL).
      const volume = mine.reduce((a, t) => a.plus(t.size), new Dec(0));
      const pv = mine.reduce((a, t) => a.plus(new Dec(t.price).times(t.size)), new Dec(0));
      expect(new Dec(s.v1h).eq(volume)).toBe(true);
      const direct = await admin.query<{ pv: string; v: string }>(
        `SELECT sum(price * size)::text AS pv, sum(size)::text AS v FROM market.ticks WHERE symbol = $1 AND ts >= $2 AND ts < $3`,
        [symbol, new Date(HOUR), new Date(HOUR + 3_600_000)],
      );
      expect(vwapOf(s.pv1h, s.v1h)).toBe(vwapOf(pv, volume));
      expect(vwapOf(s.pv1h, s.v1h)).toBe(vwapOf(direct.rows[0]!.pv, direct.rows[0]!.v));

      // Open, high, low and close of the hour match the ticks.
      const hour = await admin.query<{ open: string; high: string; low: string; close: string }>(
        `SELECT open::text, high::text, low::text, close::text FROM market.bars_1h WHERE symbol = $1 AND bucket = $2`,
        [symbol, new Date(HOUR)],
      );
      const sorted = [...mine].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
      const prices = mine.map((t) => new Dec(t.price));
      expect(new Dec(hour.rows[0]!.open).eq(sorted[0]!.price)).toBe(true);
      expect(new Dec(hour.rows[0]!.close).eq(sorted[sorted.length - 1]!.price)).toBe(true);
      expect(new Dec(hour.rows[0]!.high).eq(Dec.max(...prices))).toBe(true);
      expect(new Dec(hour.rows[0]!.low).eq(Dec.min(...prices))).toBe(true);
    }
  });

  it('merges a later batch into existing bars without double counting', async () => {
    const { writer } = svc.runtime();
    const t0 = Date.UTC(2024, 2, 6, 9, 30);
    const batchA = [
      {
        symbol: 'MSFT',
        price: '400.00',
        bid: '400.00',
        ask: '400.01',
        size: '10',
        ts: t0 + 1_000,
        seq: 1,
        producer: 't',
      },
    ];
    const batchB = [
      {
        symbol: 'MSFT',
        price: '401.00',
        bid: '401.00',
        ask: '401.01',
        size: '5',
        ts: t0 + 2_000,
        seq: 2,
        producer: 't',
      },
      {
        symbol: 'MSFT',
        price: '399.50',
        bid: '399.50',
        ask: '399.51',
        size: '1',
        ts: t0 + 500,
        seq: 0,
        producer: 't',
      },
    ];
    await writer.writeBatch(batchA);
    await writer.writeBatch(batchB);
    const r = await admin.query(
      `SELECT open::text, high::text, low::text, close::text, volume::text, trades FROM market.bars_1d WHERE symbol = 'MSFT' AND bucket = $1`,
      [new Date(Date.UTC(2024, 2, 6))],
    );
    expect(r.rows[0]).toEqual({
      open: '399.50',
      high: '401.00',
      low: '399.50',
      close: '401.00',
      volume: '16',
      trades: '3',
    });
    expect(aggregateMinuteBars([...batchA, ...batchB])[0]!.volume).toBe('16');
  });

  it('creates tick partitions ahead and drops the ones past retention', async () => {
    const { maintenance } = svc.runtime();
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    // Old days (written above and created now) exist before retention runs.
    await svc.runtime().writer.writeBatch([tickAt(Date.now() - 20 * 86_400_000)]);
    const names = await tickPartitions();
    expect(names).toContain('ticks_20240305');
    expect(names).toContain(`ticks_${today}`);
    // MARKET_TICK_PARTITIONS_AHEAD defaults to 3: today and three days ahead exist.
    const ahead = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    expect(names).toContain(`ticks_${ahead}`);

    const { dropped } = await maintenance.runOnce();
    expect(dropped).toContain('ticks_20240305');
    expect(dropped).toContain('ticks_20240306');
    const left = await tickPartitions();
    expect(left).not.toContain('ticks_20240305');
    expect(left).toContain(`ticks_${today}`);
    // Retention of 7 days: nothing older than 6 days before today is left.
    const oldest = new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    for (const name of left) expect(name >= `ticks_${oldest}`).toBe(true);
    // Bars are kept (only raw ticks expire).
    const bars = await admin.query(`SELECT 1 FROM market.bars_1h WHERE bucket = $1 LIMIT 1`, [
      new Date(HOUR),
    ]);
    expect(bars.rowCount).toBe(1);
    // A write to a dropped day recreates its partition.
    await svc.runtime().writer.writeBatch([tickAt(HOUR)]);
  });

  it('never blocks the feed when Postgres is unreachable: buffers up to the bound, then drops and counts', async () => {
    const { TickWriter } = await import('../src/tick.writer.js');
    const { TickRepository } = await import('../src/tick.repository.js');
    const { BarRepository } = await import('../src/bar.repository.js');
    const { createDb } = await import('../../../lib/db.js');
    const { createMarketMetrics } = await import('../src/market.metrics.js');
    const { Registry } = await import('prom-client');
    const { pino } = await import('pino');
    const dead = new pg.Pool({
      connectionString: 'postgres://nobody@127.0.0.1:1/none',
      connectionTimeoutMillis: 200,
    });
    dead.on('error', () => undefined);
    const registry = new Registry();
    const metrics = createMarketMetrics(registry);
    const writer = new TickWriter(
      dead,
      new TickRepository(),
      new BarRepository(createDb(dead)),
      metrics,
      pino({ level: 'silent' }),
      {
        batchSize: 10,
        flushMs: 10,
        bufferMax: 50,
      },
    );
    const ticks = Array.from({ length: 80 }, (_, i) => ({
      symbol: 'AAPL',
      price: '1.00',
      bid: '1.00',
      ask: '1.01',
      size: '1',
      ts: HOUR + i,
      seq: i,
      producer: 't',
    }));
    expect(writer.enqueue(ticks.slice(0, 40))).toBe(40);
    expect(writer.enqueue(ticks.slice(40))).toBe(10);
    expect(writer.pending).toBe(50);
    const dropped = await registry.getSingleMetric('market_ticks_dropped_total')!.get();
    expect(dropped.values.find((v) => v.labels['reason'] === 'buffer_full')?.value).toBe(30);
    await writer.stop(300);
    await dead.end();
  });
});
