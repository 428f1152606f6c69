import { Counter, Gauge, Histogram, type Registry } from '../../../lib/metrics.js';

/** Metrics of the market-data subgraph. */
export interface MarketMetrics {
  ticksPublished: Counter;
  ticksWritten: Counter;
  writeBatchSeconds: Histogram;
  ticksDropped: Counter<'reason'>;
  feedLeader: Gauge;
  writeBuffer: Gauge;
  subscriptions: Gauge;
  subscriptionEventsDropped: Counter;
  partitionsDropped: Counter;
  feedLag: Histogram<'stage'>;
}

/**
 * Observes the feed lag of `ticks` at `stage`: now minus each tick's own timestamp (0 at least, so a
 * producer's clock slightly ahead does not count as negative lag).
 */
export function observeFeedLag(
  metrics: MarketMetrics,
  stage: 'publish' | 'arrival',
  ticks: { ts: number }[],
): void {
  const now = Date.now();
  for (const t of ticks) metrics.feedLag.observe({ stage }, Math.max(0, now - t.ts) / 1000);
}

/** Registers the market-data metrics on `registry`. */
export function createMarketMetrics(registry: Registry): MarketMetrics {
  return {
    ticksPublished: new Counter({
      name: 'market_ticks_published_total',
      help: 'Ticks published on Redis by this replica while it led the feed',
      registers: [registry],
    }),
    ticksWritten: new Counter({
      name: 'market_ticks_written_total',
      help: 'Ticks written to Postgres (with their bars)',
      registers: [registry],
    }),
    writeBatchSeconds: new Histogram({
      name: 'market_tick_write_batch_seconds',
      help: 'Duration of one tick write batch (ticks, 1m bars and roll-ups in one transaction)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    ticksDropped: new Counter({
      name: 'market_ticks_dropped_total',
      help: 'Ticks not written to Postgres, by reason (buffer_full: Postgres too slow or down for too long; publish_failed: Redis unreachable, not published either)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    feedLeader: new Gauge({
      name: 'market_feed_leader',
      help: '1 while this replica holds the feed lock and produces ticks, else 0',
      registers: [registry],
    }),
    writeBuffer: new Gauge({
      name: 'market_tick_write_buffer_ticks',
      help: 'Ticks waiting in memory to be written to Postgres',
      registers: [registry],
    }),
    subscriptions: new Gauge({
      name: 'market_subscriptions_active',
      help: 'Active priceUpdated subscriptions on this replica',
      registers: [registry],
    }),
    subscriptionEventsDropped: new Counter({
      name: 'market_subscription_events_dropped_total',
      help: 'Ticks dropped for a subscriber that fell too far behind (oldest first)',
      registers: [registry],
    }),
    partitionsDropped: new Counter({
      name: 'market_tick_partitions_dropped_total',
      help: 'Daily tick partitions dropped by retention',
      registers: [registry],
    }),
    feedLag: new Histogram({
      name: 'market_feed_lag_seconds',
      help: "Time from a tick's timestamp to its publication on Redis (stage=publish, by the feed leader) and to its arrival at this replica (stage=arrival)",
      labelNames: ['stage'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}
