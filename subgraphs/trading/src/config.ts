/**
 * The trading service's own settings: the execution engine, pricing (slippage, fees, margin), DAY
 * expiry and the bounds of placement. Validated with the kernel by `loadConfig(env, tradingConfig)`.
 */
import { z } from 'zod';
import {
  bool,
  configSection,
  decimalString,
  loadConfig,
  positiveInt,
  type ConfigWith,
} from '../../../lib/config.js';

/** Connections trading keeps open unless TRADING_DB_POOL_WARM says otherwise (capped at DB_POOL_MAX). */
export const TRADING_DB_POOL_WARM_DEFAULT = 10;

export const tradingConfig = configSection({
  /** Whether this trading replica runs the execution engine (competes for symbol locks, fills resting orders). */
  TRADING_ENGINE_ENABLED: bool.default(true),
  /** Symbol lock lifetime; the owner renews every third of it, another replica takes a symbol over after it. */
  TRADING_ENGINE_LOCK_TTL_MS: z.coerce.number().int().min(500).default(5_000),
  /** Slippage of market (and triggered stop) fills: fixed basis points away from the bid/ask. */
  TRADING_SLIPPAGE_BPS: decimalString.default('0'),
  /** Extra slippage, in basis points per multiple of the tick's trade size the fill takes (market impact). */
  TRADING_SLIPPAGE_IMPACT_BPS: decimalString.default('0'),
  /** Quantity one order may fill per tick, as a multiple of the tick's trade size; 0: unlimited liquidity. */
  TRADING_LIQUIDITY_FACTOR: z.coerce.number().min(0).default(0),
  /** Commission in basis points of each fill's notional (charged in the cash ledger as `fee`). */
  TRADING_FEE_BPS: decimalString.default('0'),
  /** Smallest commission of a fill (when TRADING_FEE_BPS > 0). */
  TRADING_FEE_MIN: decimalString.default('0'),
  /** Cash held against short positions, as a multiple of their cost (1.5: proceeds plus 50 % margin). */
  TRADING_SHORT_MARGIN_RATE: decimalString.default('1.5'),
  /** When DAY orders expire, HH:MM in UTC (20:00 is 4 pm in New York during daylight saving time). */
  TRADING_DAY_END_UTC: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM')
    .default('20:00'),
  /** Market orders need a quote at most this old (ms); 0 accepts any age. */
  TRADING_MAX_QUOTE_AGE_MS: z.coerce.number().int().min(0).default(300_000),
  /** How often the engine expires due DAY orders. */
  TRADING_EXPIRY_INTERVAL_MS: positiveInt.default(5_000),
  /** Approximate length the `trading:trades` Redis stream is trimmed to. */
  TRADING_TRADE_STREAM_MAXLEN: positiveInt.default(1_000_000),
  /** How often the instrument catalog (from market-data) is refreshed. */
  TRADING_CATALOG_REFRESH_MS: positiveInt.default(60_000),
  /** Account transactions the engine runs at once when a tick crosses resting orders of many accounts. */
  TRADING_FILL_CONCURRENCY: positiveInt.default(8),
  /**
   * Placement transactions one replica runs at once (all accounts together). Submissions waiting for
   * one gather into the account's next batch; about twice the database's cores keeps it busy.
   */
  TRADING_PLACEMENT_CONCURRENCY: positiveInt.default(4),
  /**
   * Submissions that may wait in one account's placement queue (per replica); beyond it a placement is
   * refused with RATE_LIMITED and nothing is stored.
   */
  TRADING_ACCOUNT_QUEUE_MAX: positiveInt.default(200),
  /**
   * Pooled connections (of DB_POOL_MAX) one tenant's transactions may hold at once on a replica,
   * placements, fills and reads alike; further ones wait for one of them to finish.
   */
  TRADING_TENANT_MAX_CONNECTIONS: positiveInt.default(5),
  /**
   * PostgreSQL connections trading opens at start and keeps open (of DB_POOL_MAX; the whole pool by
   * default), so that a burst of orders never waits for new ones (lib/db.ts, keepWarm).
   */
  TRADING_DB_POOL_WARM: z.coerce.number().int().min(0).default(TRADING_DB_POOL_WARM_DEFAULT),
  /** Lifetime of the real-time cache keys (`trading:positions|account|last-trade:*`), renewed on write. */
  TRADING_REALTIME_CACHE_TTL_SECONDS: positiveInt.default(604_800),
});

/** The kernel and the trading section. */
export type TradingConfig = ConfigWith<[typeof tradingConfig]>;

/** Validates the kernel and the trading section (default: the process environment). */
export function loadTradingConfig(env?: Record<string, string | undefined>): TradingConfig {
  return loadConfig(env, tradingConfig);
}
