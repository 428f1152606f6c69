/**
 * The analytics service's own settings: report inputs (risk-free rate, benchmark, windows), the
 * report cache, equity snapshots and the trade stream consumer. Validated with the kernel by
 * `loadConfig(env, analyticsConfig)`.
 */
import { z } from 'zod';
import { bool, configSection, loadConfig, positiveInt, type ConfigWith } from '../../../lib/config.js';

export const analyticsConfig = configSection({
  /** Annual risk-free rate (0.04 = 4 %) used by Sharpe, Sortino and alpha; daily rate = annual / 252. */
  ANALYTICS_RISK_FREE_RATE: z.coerce.number().min(-1).max(1).default(0),
  /** Instrument whose daily closes are the benchmark of alpha and beta. */
  ANALYTICS_BENCHMARK_SYMBOL: z.string().min(1).default('SPY'),
  /** How long a computed report stays cached in Redis (invalidated earlier by a trade of the account). */
  ANALYTICS_CACHE_TTL_SECONDS: positiveInt.default(300),
  /** Whether this replica runs the periodic equity snapshotter (one run at a time across replicas). */
  ANALYTICS_SNAPSHOTS_ENABLED: bool.default(true),
  /** How often equity snapshots are taken (an intraday row each time; the day's daily row is updated). */
  ANALYTICS_SNAPSHOT_INTERVAL_MS: positiveInt.default(300_000),
  /**
   * Least time between two snapshots of one account taken after its trades (a burst of trades gives
   * one snapshot at once and one after the burst); 0 snapshots after every trade.
   */
  ANALYTICS_TRADE_SNAPSHOT_INTERVAL_MS: z.coerce.number().int().min(0).default(1_000),
  /** Whether intraday snapshot rows are kept (daily rows are always written). */
  ANALYTICS_INTRADAY_SNAPSHOTS: bool.default(true),
  /** Whether this replica consumes trading's trade stream (consumer group `analytics`). */
  ANALYTICS_TRADE_CONSUMER_ENABLED: bool.default(true),
  /** Window of the rolling volatility series, in daily returns. */
  ANALYTICS_ROLLING_WINDOW_DAYS: z.coerce.number().int().min(2).default(21),
  /** Daily returns (most recent) that historical VaR and expected shortfall look back on. */
  ANALYTICS_VAR_LOOKBACK_DAYS: z.coerce.number().int().min(2).default(500),
  /**
   * Deliveries of one trade stream entry whose handling keeps failing before it is moved to the
   * dead-letter stream (`trading:trades:dead`) and acknowledged.
   */
  ANALYTICS_TRADE_STREAM_MAX_DELIVERIES: positiveInt.default(5),
  /** Idle time (ms) before a failed trade stream entry is delivered again (to this or another replica). */
  ANALYTICS_TRADE_STREAM_RETRY_MS: positiveInt.default(5000),
  /**
   * Wait (ms) after handling a page of trade stream entries before reading the next, so the next is
   * handled in fewer transactions (one per tenant); reports lag trades by up to this much more. 0: none.
   */
  ANALYTICS_TRADE_STREAM_BATCH_WAIT_MS: z.coerce.number().int().min(0).max(5000).default(500),
  /**
   * Most trade stream entries read at once: a page is ingested in one transaction per tenant, so a
   * bigger page (with the wait above) means fewer transactions per trade under load.
   */
  ANALYTICS_TRADE_STREAM_PAGE: z.coerce.number().int().min(1).max(10_000).default(1000),
});

/** The kernel and the analytics section. */
export type AnalyticsConfig = ConfigWith<[typeof analyticsConfig]>;

/** Validates the kernel and the analytics section (default: the process environment). */
export function loadAnalyticsConfig(env?: Record<string, string | undefined>): AnalyticsConfig {
  return loadConfig(env, analyticsConfig);
}
