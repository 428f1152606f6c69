/**
 * The market-data service's own settings: the feed (simulator or replay, leader election) and tick
 * storage. Validated with the kernel by `loadConfig(env, marketDataConfig)`.
 */
import { z } from 'zod';
import { bool, configSection, list, loadConfig, positiveInt, type ConfigWith } from '../../../lib/config.js';

export const marketDataConfig = configSection({
  /** Whether this market-data replica takes part in the feed leader election (one producer at a time). */
  MARKET_FEED_ENABLED: bool.default(true),
  /** Feed provider: `simulator` (seeded geometric Brownian motion) or `replay` (stored ticks played back). */
  MARKET_FEED_PROVIDER: z.enum(['simulator', 'replay']).default('simulator'),
  /** Seed of the simulator: the same seed and symbols give the same price paths. */
  MARKET_FEED_SEED: z.coerce.number().int().min(0).default(42),
  /** Ticks per second, in total across the symbols. */
  MARKET_FEED_TICKS_PER_SECOND: z.coerce.number().positive().max(1_000_000).default(50),
  /** Symbols the feed produces; empty: every tradable instrument. */
  MARKET_FEED_SYMBOLS: list.default([]),
  /** Replay window (ISO-8601); unset: the last 24 hours of stored ticks. */
  MARKET_FEED_REPLAY_FROM: z.iso.datetime({ offset: true }).optional(),
  MARKET_FEED_REPLAY_TO: z.iso.datetime({ offset: true }).optional(),
  /** Replay speed: 1 plays stored ticks at their recorded pace, 10 ten times faster. */
  MARKET_FEED_REPLAY_SPEED: z.coerce.number().positive().default(1),
  /** Feed leader lock lifetime; the leader renews it every third of this, followers take over after it. */
  MARKET_FEED_LOCK_TTL_MS: z.coerce.number().int().min(500).default(5_000),
  /** Ticks written to Postgres per batch (one transaction: ticks + 1m bars + roll-ups). */
  MARKET_TICK_BATCH_SIZE: positiveInt.default(5_000),
  /** Longest a published tick waits in the write buffer before a batch is flushed. */
  MARKET_TICK_FLUSH_MS: positiveInt.default(250),
  /** Ticks held in memory while Postgres is slow or down; beyond this, new ticks are dropped (and counted). */
  MARKET_TICK_BUFFER_MAX: positiveInt.default(200_000),
  /** Days of raw ticks kept; older daily partitions are dropped (bars are kept). */
  MARKET_TICK_RETENTION_DAYS: positiveInt.default(30),
  /** Daily tick partitions created ahead of today. */
  MARKET_TICK_PARTITIONS_AHEAD: z.coerce.number().int().min(0).max(60).default(3),
  /** How often partitions are created ahead and old ones dropped. */
  MARKET_MAINTENANCE_INTERVAL_MS: positiveInt.default(3_600_000),
});

/** The kernel and the market-data section. */
export type MarketDataConfig = ConfigWith<[typeof marketDataConfig]>;

/** Validates the kernel and the market-data section (default: the process environment). */
export function loadMarketDataConfig(env?: Record<string, string | undefined>): MarketDataConfig {
  return loadConfig(env, marketDataConfig);
}
