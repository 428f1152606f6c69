/**
 * Feed ingestion benchmark (issue 4): ticks per second written to Postgres with bars maintained
 * (ticks into daily partitions, 1-minute bars upserted, 5m / 1h / 1d rolled up, one transaction per
 * batch). Target: at least 20,000 ticks/s sustained.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createDb, createPool } from '../lib/db.js';
import { BarRepository } from '../subgraphs/market-data/src/bar.repository.js';
import { GbmSimulator, type SimulatedInstrument } from '../subgraphs/market-data/src/feed/simulator.js';
import { InstrumentRepository } from '../subgraphs/market-data/src/instrument.repository.js';
import { createMarketMetrics, type MarketMetrics } from '../subgraphs/market-data/src/market.metrics.js';
import { createMarketDataService } from '../subgraphs/market-data/src/service.js';
import type { Tick } from '../contracts/market-tick.js';
import { TickRepository } from '../subgraphs/market-data/src/tick.repository.js';
import { TickWriter } from '../subgraphs/market-data/src/tick.writer.js';
import { createTestEnv, freePorts } from '../test/support/env.js';

const seconds = Number(process.argv[2] ?? 20);
const rate = Number(process.argv[3] ?? 20_000);
const burst = Number(process.argv[4] ?? 400_000);

async function counter(metrics: MarketMetrics, name: 'ticksWritten' | 'ticksPublished'): Promise<number> {
  return (await metrics[name].get()).values.reduce((a, v) => a + v.value, 0);
}

async function dropped(metrics: MarketMetrics): Promise<number> {
  return (await metrics.ticksDropped.get()).values.reduce((a, v) => a + v.value, 0);
}

async function batchQuantiles(registry: Registry): Promise<string> {
  const h = await registry.getSingleMetric('market_tick_write_batch_seconds')!.get();
  const values = h.values as { value: number; metricName?: string }[];
  const count = values.find((v) => v.metricName === 'market_tick_write_batch_seconds_count')?.value ?? 0;
  const sum = values.find((v) => v.metricName === 'market_tick_write_batch_seconds_sum')?.value ?? 0;
  return `${count} batches, mean ${((sum / Math.max(1, count)) * 1000).toFixed(1)} ms`;
}

/**
 *  1. burst: a large backlog of simulated ticks (24 instruments) written as fast as the writer goes;
 *  2. paced: ticks enqueued at the target rate in real time for `seconds`; sustained means the write
 *     buffer stays bounded and nothing is dropped;
 *  3. end to end: the market-data service itself with the simulator at the target rate (leader lock,
 *     fenced publish on Redis, quotes hash, writer), counting published and written ticks.
 *
 * Run: `npx tsx bench/feed-ingestion.ts [seconds=20] [rate=20000] [burst=400000]`. Uses its own database
 * and Redis prefix (test support), loopback only, and stops by itself.
 */
async function main(): Promise<void> {
  const env = await createTestEnv('bench_feed', { LOG_LEVEL: 'warn', DB_POOL_MAX: '4' });
  const logger = pino({ level: 'warn' });
  const pool = createPool(env.config, env.config.DATABASE_URL, 'bench-feed');
  try {
    const rows = await new InstrumentRepository(createDb(pool)).list();
    const instruments: SimulatedInstrument[] = rows.map((r) => ({
      symbol: r.symbol,
      tickSize: r.tickSize,
      lotSize: r.lotSize,
      priceDecimals: r.tickSize.split('.')[1]?.replace(/0+$/, '').length ?? 0,
      assetClass: r.assetClass,
      drift: Number(r.drift),
      volatility: Number(r.volatility),
      spreadBps: Number(r.spreadBps),
      startPrice: r.basePrice,
    }));
    const sim = new GbmSimulator(instruments, { seed: 1, ticksPerSecond: rate, producer: 'bench' });
    const writerOpts = {
      batchSize: env.config.MARKET_TICK_BATCH_SIZE,
      flushMs: env.config.MARKET_TICK_FLUSH_MS,
      bufferMax: env.config.MARKET_TICK_BUFFER_MAX,
    };
    // A writer with metrics of its own, so each phase reports only its own batches.
    const newWriter = (opts: typeof writerOpts) => {
      const registry = new Registry();
      const metrics = createMarketMetrics(registry);
      const writer = new TickWriter(
        pool,
        new TickRepository(),
        new BarRepository(createDb(pool)),
        metrics,
        logger,
        opts,
      );
      return { registry, metrics, writer };
    };
    console.log(
      `instruments ${instruments.length}, batch ${writerOpts.batchSize}, flush ${writerOpts.flushMs} ms, buffer max ${writerOpts.bufferMax}`,
    );

    // 1. Burst: stream time starts 2 hours ago at `rate` ticks/s of stream time.
    {
      const { registry, writer } = newWriter({ ...writerOpts, bufferMax: burst });
      const t0Stream = Date.now() - 2 * 3_600_000;
      const ticks: Tick[] = Array.from({ length: burst }, (_, i) =>
        sim.next(t0Stream + Math.floor((i * 1000) / rate)),
      );
      const t0 = performance.now();
      writer.enqueue(ticks);
      await writer.flush();
      const s = (performance.now() - t0) / 1000;
      console.log(
        `burst: ${burst} ticks written in ${s.toFixed(2)} s = ${Math.round(burst / s)} ticks/s (${await batchQuantiles(registry)})`,
      );
      await writer.stop();
    }

    // 2. Paced at `rate` in real time.
    {
      const { registry, metrics, writer } = newWriter(writerOpts);
      let maxPending = 0;
      const start = performance.now();
      let sent = 0;
      while (performance.now() - start < seconds * 1000) {
        await new Promise((r) => setTimeout(r, 20));
        const due = Math.floor(((performance.now() - start) * rate) / 1000) - sent;
        if (due <= 0) continue;
        const now = Date.now();
        const ticks = Array.from({ length: due }, () => sim.next(now));
        writer.enqueue(ticks);
        sent += due;
        maxPending = Math.max(maxPending, writer.pending);
      }
      const enqueueEnd = performance.now();
      await writer.flush();
      const drain = (performance.now() - enqueueEnd) / 1000;
      const written = await counter(metrics, 'ticksWritten');
      console.log(
        `paced: ${sent} ticks offered at ${rate}/s for ${seconds} s; written ${written}, dropped ${await dropped(metrics)}, ` +
          `max buffered ${maxPending}, drain after stop ${drain.toFixed(2)} s; ` +
          `sustained ${Math.round(written / ((enqueueEnd - start) / 1000 + drain))} ticks/s (${await batchQuantiles(registry)})`,
      );
      await writer.stop();
    }

    // 3. End to end through the service (simulator -> fenced publish -> Redis -> writer -> Postgres).
    {
      const [port] = await freePorts(1);
      const svc = createMarketDataService(
        { ...env.config, MARKET_DATA_PORT: port!, MARKET_FEED_TICKS_PER_SECOND: rate },
        { sessions: null, instanceId: 'bench' },
      );
      await svc.start();
      const { metrics, writer } = svc.runtime();
      const t0 = performance.now();
      let maxPending = 0;
      while (performance.now() - t0 < seconds * 1000) {
        await new Promise((r) => setTimeout(r, 100));
        maxPending = Math.max(maxPending, writer.pending);
      }
      const elapsed = (performance.now() - t0) / 1000;
      await svc.stop();
      // Read after stop: the feed stopped first, then the writer drained what was left.
      const published = await counter(metrics, 'ticksPublished');
      const written = await counter(metrics, 'ticksWritten');
      console.log(
        `service: feed at ${rate}/s for ${seconds} s: published ${published} (${Math.round(published / elapsed)}/s), ` +
          `written ${written}, dropped ${await dropped(metrics)}, max buffered ${maxPending}`,
      );
    }
  } finally {
    await pool.end();
    await env.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
