import { Counter, Histogram, type Registry } from '../../../lib/metrics.js';

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
    deadLetters: new Counter({
      name: 'analytics_trade_stream_dead_letters_total',
      help: 'Trade stream entries moved to the dead-letter stream, by reason (malformed, max_deliveries)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    snapshotsWritten: new Counter({
      name: 'analytics_snapshots_written_total',
      help: 'Equity snapshots written, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
  };
}
