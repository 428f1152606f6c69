import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { JWTVerifyGetKey } from 'jose';
import type pg from 'pg';
import type { SessionLiveness } from '../../../lib/auth.js';
import type { MarketDataConfig } from './config.js';
import { createDb, createPool, pingDb } from '../../../lib/db.js';
import type { HttpService, Service } from '../../../lib/http.js';
import { createLogger, type Logger } from '../../../lib/logger.js';
import { createMetrics } from '../../../lib/metrics.js';
import { createRedis, pingRedis, type Redis } from '../../../lib/redis.js';
import { channels, keyWithin, sharedKeys } from '../../../contracts/redis-names.js';
import {
  closeConnections,
  createSubgraphHttp,
  createSubgraphVerifier,
  once,
  startHttp,
  subgraphSessionLiveness,
} from '../../../lib/subgraph-service.js';
import type { GraphqlWsServer } from '../../../lib/ws-server.js';
import { BarRepository } from './bar.repository.js';
import { CandleService } from './candle.service.js';
import type { MarketDataContext, MarketDataServices } from './context.js';
import { FeedService } from './feed/feed.service.js';
import { RedisLease } from '../../../lib/redis-lease.js';
import type { FeedProvider } from './feed/provider.js';
import { ReplayProvider } from './feed/replay.js';
import { SimulatorProvider, type SimulatedInstrument } from './feed/simulator.js';
import { TickPublisher } from './feed/tick.publisher.js';
import { IndicatorService } from './indicator.service.js';
import { InstrumentCatalog, type InstrumentModel } from './instrument.catalog.js';
import { InstrumentRepository } from './instrument.repository.js';
import { createMarketMetrics, type MarketMetrics } from './market.metrics.js';
import { PartitionMaintenance } from './partition.service.js';
import { QuoteStore } from './quote.store.js';
import { resolvers } from './resolvers/index.js';
import { SummaryService } from './summary.service.js';
import { TickHub } from './tick.hub.js';
import { TickRepository } from './tick.repository.js';
import { TickWriter } from './tick.writer.js';

/** Redis keys of the subgraph live under `<REDIS_PREFIX>market:` (the client's keyPrefix). */
export const REDIS_NAMESPACE = 'market:';
export const LOCK_KEY = 'feed:leader';
/** The shared quotes hash (contracts/redis-names), relative to this client's namespace. */
const QUOTES_KEY = keyWithin(REDIS_NAMESPACE, sharedKeys.marketQuotes);

/** What a custom provider factory receives. */
export interface ProviderContext {
  instruments: InstrumentModel[];
  producer: string;
  pool: pg.Pool;
  ticks: TickRepository;
  quotes: QuoteStore;
  logger: Logger;
}

/** Optional collaborators, for tests and benchmarks. */
export interface MarketDataDeps {
  /** Verifies tokens against these keys instead of fetching auth's JWKS. */
  jwks?: JWTVerifyGetKey;
  /** Session liveness; null skips the check (tests without a sessions service). Default: sessions service. */
  sessions?: SessionLiveness | null;
  /** Clock in epoch ms. */
  now?: () => number;
  /** Id of this replica in the feed election (default: host, pid and random). */
  instanceId?: string;
  /** Replaces the configured feed provider. */
  provider?: (ctx: ProviderContext) => Promise<FeedProvider>;
}

/** Internals of a started service, for tests and benchmarks. */
export interface MarketDataRuntime {
  feed: FeedService | undefined;
  writer: TickWriter;
  maintenance: PartitionMaintenance;
  catalog: InstrumentCatalog;
  metrics: MarketMetrics;
  pool: pg.Pool;
  instanceId: string;
}

export interface MarketDataService extends Service {
  /** The running internals; throws before `start()`. */
  runtime(): MarketDataRuntime;
  /**
   * Stops like a crash would, as far as the feed is concerned: the feed lock is not released (a
   * follower takes over only after its TTL). Everything else is released normally.
   */
  crash(): Promise<void>;
}

/**
 * The market-data subgraph on `config.MARKET_DATA_PORT`: the instrument catalog, the feed (leader
 * election, provider, fenced publish, batched Postgres writer), quotes, candles, indicators, the
 * market summary, and `priceUpdated` over graphql-ws on `/graphql`. Nothing connects until `start()`.
 */
export function createMarketDataService(
  config: MarketDataConfig,
  deps: MarketDataDeps = {},
): MarketDataService {
  let running: { http: HttpService; ws: GraphqlWsServer; runtime: MarketDataRuntime } | undefined;
  const now = deps.now ?? Date.now;
  const instanceId = deps.instanceId ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

  const stopAll = async (release: boolean): Promise<void> => {
    const r = running;
    running = undefined;
    if (!r) return;
    // Producer first (no new ticks), then drain the writer, then close sockets and the HTTP server
    // (whose onStop releases pools and clients).
    if (r.runtime.feed) await r.runtime.feed.stop({ release });
    await r.runtime.writer.stop();
    await r.ws.dispose();
    await r.http.stop();
  };

  return {
    runtime() {
      if (!running) throw new Error('market-data service not started');
      return running.runtime;
    },
    async start() {
      if (running) throw new Error('market-data service already started');
      const logger = createLogger(config, 'market-data');
      const metrics = createMetrics('market-data');
      const market = createMarketMetrics(metrics.registry);
      const pool = createPool(config, config.DATABASE_URL, 'tradesage-market-data');
      const redis: Redis = createRedis(config, 'commands', `${config.REDIS_PREFIX}${REDIS_NAMESPACE}`, {
        logger,
      });
      const subscriber: Redis = createRedis(config, 'subscriber', undefined, { logger });
      const catalog = new InstrumentCatalog(new InstrumentRepository(createDb(pool)), logger);
      const maintenance = new PartitionMaintenance(
        pool,
        new TickRepository(),
        market,
        logger,
        {
          ahead: config.MARKET_TICK_PARTITIONS_AHEAD,
          retentionDays: config.MARKET_TICK_RETENTION_DAYS,
          intervalMs: config.MARKET_MAINTENANCE_INTERVAL_MS,
        },
        now,
      );
      const release = once(async () => {
        maintenance.stop();
        catalog.close();
        await closeConnections(redis, subscriber, pool);
      });

      try {
        await catalog.open();
        await maintenance.start();
        const ticks = new TickRepository();
        const bars = new BarRepository(createDb(pool));
        const quotes = new QuoteStore(redis, QUOTES_KEY);
        const candles = new CandleService(bars, catalog, now);
        const hub = new TickHub(subscriber, config.REDIS_PREFIX, market, logger);
        const services: MarketDataServices = {
          catalog,
          quotes,
          candles,
          indicators: new IndicatorService(candles),
          summary: new SummaryService(bars, catalog, now),
          hub,
        };
        const writer = new TickWriter(pool, ticks, bars, market, logger, {
          batchSize: config.MARKET_TICK_BATCH_SIZE,
          flushMs: config.MARKET_TICK_FLUSH_MS,
          bufferMax: config.MARKET_TICK_BUFFER_MAX,
        });

        const sessions = await subgraphSessionLiveness(config, logger, subscriber, deps.sessions);
        const verifier = createSubgraphVerifier(config, sessions, deps.jwks);

        const feed = config.MARKET_FEED_ENABLED
          ? new FeedService(
              new RedisLease(redis, LOCK_KEY, {
                token: instanceId,
                ttlMs: config.MARKET_FEED_LOCK_TTL_MS,
                now,
              }),
              new TickPublisher(redis, LOCK_KEY, QUOTES_KEY, channels.marketTicks(config.REDIS_PREFIX, '')),
              writer,
              () =>
                makeProvider(
                  config,
                  { catalog, quotes, pool, ticks, logger, instanceId, now },
                  deps.provider,
                ),
              market,
              logger,
              config.MARKET_FEED_LOCK_TTL_MS,
            )
          : undefined;

        const { http, attachWs } = createSubgraphHttp({
          name: 'market-data',
          config,
          port: config.MARKET_DATA_PORT,
          logger,
          metrics,
          readiness: { postgres: () => pingDb(pool), redis: () => pingRedis(redis) },
          resolvers,
          verifier,
          context: (base): MarketDataContext => ({ ...base, market: services }),
          onStop: [release],
        });
        const ws = await attachWs({ subscriber, subscribeRevocations: deps.sessions !== undefined, now });

        const address = await startHttp(http, [() => ws.dispose()]);
        feed?.start();
        running = {
          http,
          ws,
          runtime: { feed, writer, maintenance, catalog, metrics: market, pool, instanceId },
        };
        return address;
      } catch (err) {
        await release();
        throw err;
      }
    },
    stop: () => stopAll(true),
    crash: () => stopAll(false),
  };
}

/** The configured provider for the feed's symbols (MARKET_FEED_SYMBOLS, or every tradable instrument). */
async function makeProvider(
  config: MarketDataConfig,
  c: {
    catalog: InstrumentCatalog;
    quotes: QuoteStore;
    pool: pg.Pool;
    ticks: TickRepository;
    logger: Logger;
    instanceId: string;
    now: () => number;
  },
  custom: MarketDataDeps['provider'],
): Promise<FeedProvider> {
  await c.catalog
    .reload()
    .catch((err: unknown) => c.logger.warn({ err }, 'catalog reload failed; using cached'));
  const wanted = config.MARKET_FEED_SYMBOLS;
  const unknown = wanted.filter((s) => !c.catalog.get(s));
  if (unknown.length > 0) c.logger.warn({ unknown }, 'MARKET_FEED_SYMBOLS names unknown symbols; ignored');
  const instruments =
    wanted.length > 0
      ? wanted.map((s) => c.catalog.get(s)).filter((i): i is InstrumentModel => i !== undefined && i.tradable)
      : c.catalog.all().filter((i) => i.tradable);
  if (custom) {
    return custom({
      instruments,
      producer: c.instanceId,
      pool: c.pool,
      ticks: c.ticks,
      quotes: c.quotes,
      logger: c.logger,
    });
  }
  switch (config.MARKET_FEED_PROVIDER) {
    case 'replay': {
      const to = config.MARKET_FEED_REPLAY_TO ? Date.parse(config.MARKET_FEED_REPLAY_TO) : c.now();
      const from = config.MARKET_FEED_REPLAY_FROM
        ? Date.parse(config.MARKET_FEED_REPLAY_FROM)
        : to - 86_400_000;
      return new ReplayProvider(c.pool, c.ticks, c.logger, {
        from,
        to,
        speed: config.MARKET_FEED_REPLAY_SPEED,
        symbols: instruments.map((i) => i.symbol),
        producer: c.instanceId,
        now: c.now,
      });
    }
    case 'simulator': {
      // A new leader continues from the last published quotes, so a failover does not jump prices.
      const last = await c.quotes
        .getMany(instruments.map((i) => i.symbol))
        .catch(() => new Map<string, never>());
      const simulated: SimulatedInstrument[] = instruments.map((i) => ({
        symbol: i.symbol,
        tickSize: i.tickSize,
        lotSize: i.lotSize,
        priceDecimals: i.priceDecimals,
        assetClass: i.assetClass,
        drift: Number(i.drift),
        volatility: Number(i.volatility),
        spreadBps: Number(i.spreadBps),
        startPrice: last.get(i.symbol)?.price ?? i.basePrice,
      }));
      return new SimulatorProvider(simulated, {
        seed: config.MARKET_FEED_SEED,
        ticksPerSecond: config.MARKET_FEED_TICKS_PER_SECOND,
        producer: c.instanceId,
        now: c.now,
      });
    }
  }
}
