import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { JWTVerifyGetKey } from 'jose';
import type pg from 'pg';
import type { SessionLiveness } from '../../../lib/auth.js';
import type { AnalyticsConfig } from './config.js';
import { createPool, pingDb } from '../../../lib/db.js';
import type { HttpService, Service } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createMetrics } from '../../../lib/metrics.js';
import { sharedKeys } from '../../../contracts/redis-names.js';
import { createRedis, pingRedis, type Redis } from '../../../lib/redis.js';
import {
  closeConnections,
  createSubgraphHttp,
  createSubgraphVerifier,
  once,
  startHttp,
  subgraphSessionLiveness,
} from '../../../lib/subgraph-service.js';
import {
  createAnalyticsMetrics,
  registerTradeStreamGauges,
  type AnalyticsMetrics,
} from './analytics.metrics.js';
import type { AnalyticsContext, AnalyticsServices } from './context.js';
import { DashboardService } from './dashboard.service.js';
import { MarketRepository } from './market.repository.js';
import { ReportCache } from './report.cache.js';
import { reportResponsePlugin } from './report.response.js';
import { ReportService } from './report.service.js';
import { resolvers } from './resolvers/index.js';
import { SnapshotService } from './snapshot.service.js';
import { TradeIngestService } from './trade-ingest.service.js';
import { TradeSnapshotScheduler } from './snapshot.scheduler.js';
import { TradeStreamConsumer, tradeStreamGroupInfo } from './trade-stream.consumer.js';

/** Redis keys of the subgraph live under `<REDIS_PREFIX>analytics:` (the cache client's keyPrefix). */
export const REDIS_NAMESPACE = 'analytics:';
const TRADE_STREAM_KEY = sharedKeys.tradeStream;

/** Optional collaborators, for tests and benchmarks. */
export interface AnalyticsDeps {
  /** Verifies tokens against these keys instead of fetching auth's JWKS. */
  jwks?: JWTVerifyGetKey;
  /** Session liveness; null skips the check (tests without a sessions service). Default: sessions service. */
  sessions?: SessionLiveness | null;
  /** Clock. */
  now?: () => Date;
  /** Name of this replica in the stream's consumer group. */
  consumerName?: string;
}

/** Internals of a started service, for tests and benchmarks. */
export interface AnalyticsRuntime {
  pool: pg.Pool;
  metrics: AnalyticsMetrics;
  snapshots: SnapshotService;
  ingest: TradeIngestService;
  cache: ReportCache;
  services: AnalyticsServices;
}

export interface AnalyticsService extends Service {
  /** The running internals; throws before `start()`. */
  runtime(): AnalyticsRuntime;
}

/**
 * The analytics subgraph on `config.ANALYTICS_PORT`: performance and risk reports (cached in
 * Redis), saved dashboards, the trade stream consumer and the periodic equity snapshotter.
 * Nothing connects until `start()`.
 */
export function createAnalyticsService(config: AnalyticsConfig, deps: AnalyticsDeps = {}): AnalyticsService {
  let running: { http: HttpService; runtime: AnalyticsRuntime } | undefined;
  const now = deps.now ?? ((): Date => new Date());
  const consumerName =
    deps.consumerName ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

  return {
    runtime() {
      if (!running) throw new Error('analytics service not started');
      return running.runtime;
    },
    async start() {
      if (running) throw new Error('analytics service already started');
      const logger = createLogger(config, 'analytics');
      const metrics = createMetrics('analytics');
      const analyticsMetrics = createAnalyticsMetrics(metrics.registry);
      const pool = createPool(config, config.DATABASE_URL, 'tradesage-analytics');
      const cacheRedis: Redis = createRedis(config, 'commands', `${config.REDIS_PREFIX}${REDIS_NAMESPACE}`, {
        logger,
      });
      // Other services' keys (quotes, the trade stream) are named in full, so this client has no prefix.
      const sharedRedis: Redis = createRedis(config, 'commands', undefined, { logger });
      const blockingRedis: Redis = createRedis(config, 'commands', undefined, { logger });
      const subscriber: Redis = createRedis(config, 'subscriber', undefined, { logger });
      registerTradeStreamGauges(metrics.registry, () =>
        tradeStreamGroupInfo(sharedRedis, `${config.REDIS_PREFIX}${TRADE_STREAM_KEY}`),
      );

      const market = new MarketRepository(
        pool,
        sharedRedis,
        `${config.REDIS_PREFIX}${sharedKeys.marketQuotes}`,
      );
      const cache = new ReportCache(cacheRedis, config.ANALYTICS_CACHE_TTL_SECONDS, analyticsMetrics);
      const reports = new ReportService(
        pool,
        market,
        cache,
        analyticsMetrics,
        {
          riskFreeRate: config.ANALYTICS_RISK_FREE_RATE,
          benchmarkSymbol: config.ANALYTICS_BENCHMARK_SYMBOL,
          rollingWindow: config.ANALYTICS_ROLLING_WINDOW_DAYS,
          varLookback: config.ANALYTICS_VAR_LOOKBACK_DAYS,
        },
        now,
      );
      const snapshots = new SnapshotService(
        pool,
        market,
        cacheRedis,
        analyticsMetrics,
        logger,
        { intraday: config.ANALYTICS_INTRADAY_SNAPSHOTS, intervalMs: config.ANALYTICS_SNAPSHOT_INTERVAL_MS },
        now,
      );
      const afterTrades = new TradeSnapshotScheduler(
        (scope, accountId) => snapshots.snapshotAccount(scope, accountId),
        config.ANALYTICS_TRADE_SNAPSHOT_INTERVAL_MS,
        logger,
      );
      const ingest = new TradeIngestService(pool, cache, afterTrades);
      const consumer = config.ANALYTICS_TRADE_CONSUMER_ENABLED
        ? new TradeStreamConsumer(
            blockingRedis,
            sharedRedis,
            `${config.REDIS_PREFIX}${TRADE_STREAM_KEY}`,
            consumerName,
            (events) => ingest.ingestBatch(events),
            analyticsMetrics,
            logger,
            {
              maxDeliveries: config.ANALYTICS_TRADE_STREAM_MAX_DELIVERIES,
              retryMs: config.ANALYTICS_TRADE_STREAM_RETRY_MS,
              batchWaitMs: config.ANALYTICS_TRADE_STREAM_BATCH_WAIT_MS,
              pageSize: config.ANALYTICS_TRADE_STREAM_PAGE,
            },
          )
        : undefined;
      const services: AnalyticsServices = { reports, dashboards: new DashboardService(pool) };

      const release = once(async () => {
        await snapshots.stop();
        await consumer?.stop();
        await afterTrades.stop();
        await closeConnections(cacheRedis, sharedRedis, subscriber, pool);
        blockingRedis.disconnect();
      });

      try {
        const sessions = await subgraphSessionLiveness(config, logger, subscriber, deps.sessions);
        const { http } = createSubgraphHttp({
          name: 'analytics',
          config,
          port: config.ANALYTICS_PORT,
          logger,
          metrics,
          readiness: { postgres: () => pingDb(pool), redis: () => pingRedis(cacheRedis) },
          resolvers,
          verifier: createSubgraphVerifier(config, sessions, deps.jwks),
          context: (base): AnalyticsContext => ({ ...base, analytics: services }),
          // Reports answered without per-field execution (src/report.response.ts).
          plugins: [reportResponsePlugin()],
          onStop: [release],
        });
        const address = await startHttp(http);
        await consumer?.start();
        if (config.ANALYTICS_SNAPSHOTS_ENABLED) snapshots.start();
        running = {
          http,
          runtime: { pool, metrics: analyticsMetrics, snapshots, ingest, cache, services },
        };
        return address;
      } catch (err) {
        await release();
        throw err;
      }
    },
    async stop() {
      const r = running;
      running = undefined;
      if (r) await r.http.stop();
    },
  };
}
