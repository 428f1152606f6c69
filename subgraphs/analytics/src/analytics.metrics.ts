import { Counter, Gauge, Histogram, type Registry } from '../../../lib/metrics.js';

/** Prometheus metrics of the analytics subgraph. */
export interface AnalyticsMetrics {
  reportDuration: Histogram<'report'>;
  cacheRequests: Counter<'result'>;
  tradesConsumed: Counter<'result'>;
  deadLetters: Counter<'reason'>;
  snapshotsWritten: Counter<'kind'>;
}

/** Registers the analytics metrics on the service's registry. */
export function createAnalyticsMetrics(registry: Registry): AnalyticsMetrics {
  const deadLetters = new Counter({
    name: 'analytics_trade_stream_dead_letters_total',
    help: 'Trade stream entries moved to the dead-letter stream, by reason (malformed, max_deliveries)',
    labelNames: ['reason'],
    registers: [registry],
  });
  // From 0, so increase() sees the first dead letter (AnalyticsTradeDeadLetters).
  for (const reason of ['malformed', 'max_deliveries']) deadLetters.inc({ reason }, 0);
  return {
    reportDuration: new Histogram({
      name: 'analytics_report_duration_seconds',
      help: 'Time to answer a report (cache hits included), by report',
      labelNames: ['report'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5],
      registers: [registry],
    }),
    cacheRequests: new Counter({
      name: 'analytics_cache_requests_total',
      help: 'Report cache look-ups, by result (hit, miss, error)',
      labelNames: ['result'],
      registers: [registry],
    }),
    tradesConsumed: new Counter({
      name: 'analytics_trades_consumed_total',
      help: 'Trade stream entries handled, by result (applied, duplicate, ignored, error, dead_lettered)',
      labelNames: ['result'],
      registers: [registry],
    }),
    deadLetters,
    snapshotsWritten: new Counter({
      name: 'analytics_snapshots_written_total',
      help: 'Equity snapshots written, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
  };
}

/** The trade stream as the consumer group sees it (XINFO GROUPS). */
export interface TradeStreamGroupInfo {
  /** Entries not yet delivered to the group (undefined when Redis cannot tell). */
  lag: number | undefined;
  /** Delivered but not acknowledged (being handled, or failing and awaiting a retry). */
  pending: number;
}

/**
 * `analytics_trade_stream_lag_entries` and `analytics_trade_stream_pending_entries`, read from Redis
 * when scraped (so every replica reports the group's, not its own, state; alerts take max()).
 */
export function registerTradeStreamGauges(
  registry: Registry,
  read: () => Promise<TradeStreamGroupInfo | undefined>,
): void {
  let pending: Promise<TradeStreamGroupInfo | undefined> | undefined;
  // Both gauges are collected in one scrape: one XINFO for the two.
  const info = (): Promise<TradeStreamGroupInfo | undefined> => {
    pending ??= read()
      .catch(() => undefined)
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  new Gauge({
    name: 'analytics_trade_stream_lag_entries',
    help: 'Trade stream entries not yet delivered to the analytics consumer group',
    registers: [registry],
    async collect() {
      const i = await info();
      if (i?.lag !== undefined) this.set(i.lag);
    },
  });
  new Gauge({
    name: 'analytics_trade_stream_pending_entries',
    help: 'Trade stream entries delivered to analytics but not acknowledged yet',
    registers: [registry],
    async collect() {
      const i = await info();
      if (i) this.set(i.pending);
    },
  });
}
