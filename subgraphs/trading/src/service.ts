/**
 * The trading subgraph service on `config.TRADING_PORT` (8004): accounts, orders, executions,
 * positions, the cash ledger, risk limits and the execution engine; `orderUpdated` and `tradeExecuted`
 * over graphql-ws on the same `/graphql`. Nothing connects until `start()`.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { JWTVerifyGetKey } from 'jose';
import type pg from 'pg';
import type { SessionLiveness } from '../../../lib/auth.js';
import type { TradingConfig } from './config.js';
import { createPool, pingDb } from '../../../lib/db.js';
import type { HttpService, Service } from '../../../lib/http.js';
import { createLogger, type Logger } from '../../../lib/logger.js';
import { createMetrics } from '../../../lib/metrics.js';
import { createRedis, pingRedis, type Redis } from '../../../lib/redis.js';
import {
  closeConnections,
  createSubgraphHttp,
  createSubgraphVerifier,
  once,
  startHttp,
  subgraphSessionLiveness,
} from '../../../lib/subgraph-service.js';
import type { GraphqlWsServer } from '../../../lib/ws-server.js';
import { AccountService } from './account.service.js';
import type { TradingContext, TradingServices } from './context.js';
import { createEffectsSink } from './effects.sink.js';
import { EventHub } from './events/event.hub.js';
import { TradingPublisher } from './events/trading.publisher.js';
import { ExecutionEngine } from './execution/engine.js';
import { FillService } from './execution/fill.service.js';
import {
  GraphqlInstrumentSource,
  InstrumentCatalog,
  type InstrumentSource,
} from './market/instrument.catalog.js';
import { QuoteBook } from './market/quote.book.js';
import { OrderService } from './order.service.js';
import { pricingFrom } from './order.types.js';
import { OrderBookRegistry } from './order-book.registry.js';
import { resolvers } from './resolvers/index.js';
import { SessionStore } from './session.store.js';
import { TenantGate } from './tenant-gate.js';
import { callerOf, type TenantDb } from './tenant-scope.js';
import { createTradingLoaders } from './trading.loaders.js';
import { createTradingMetrics, type TradingMetrics } from './trading.metrics.js';

/** Optional collaborators, for tests and benchmarks. */
export interface TradingDeps {
  /** Verifies tokens against these keys instead of fetching auth's JWKS. */
  jwks?: JWTVerifyGetKey;
  /** Session liveness; null skips the check (tests without a sessions service). Default: sessions service. */
  sessions?: SessionLiveness | null;
  /** The instrument catalog's source (default: market-data's `instruments` query). */
  instruments?: InstrumentSource;
  /** Clock in epoch ms (order timestamps, DAY expiry, rate windows, quote age). */
  now?: () => number;
  /** Id of this replica in the symbol leases (default: host, pid and random). */
  instanceId?: string;
  logger?: Logger;
}

/** Internals of a started service, for tests and benchmarks. */
export interface TradingRuntime {
  engine: ExecutionEngine | undefined;
  orders: OrderService;
  accounts: AccountService;
  quotes: QuoteBook;
  catalog: InstrumentCatalog;
  pool: pg.Pool;
  /** The pool with each tenant's share bounded (what every tenant transaction runs on). */
  tenantDb: TenantDb;
  redis: Redis;
  metrics: TradingMetrics;
}

export interface TradingService extends Service {
  /** The running internals; throws before `start()`. */
  runtime(): TradingRuntime;
  /** Stops like a crash would, as far as the symbol leases are concerned (they are left to expire). */
  crash(): Promise<void>;
}

/**
 * Creates (without starting) the trading service.
 * @param config process configuration (TRADING_* variables, database, Redis, JWT)
 * @param deps optional collaborators (see {@link TradingDeps})
 */
export function createTradingService(config: TradingConfig, deps: TradingDeps = {}): TradingService {
  const now = deps.now ?? Date.now;
  const instanceId = deps.instanceId ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  let running: { http: HttpService; ws: GraphqlWsServer; runtime: TradingRuntime } | undefined;

  const stopAll = async (release: boolean): Promise<void> => {
    const r = running;
    running = undefined;
    if (!r) return;
    // The engine first (no new fills), then sockets and the HTTP server, whose onStop releases
    // pools and clients.
    await r.runtime.engine?.stop(release);
    await r.ws.dispose();
    await r.http.stop();
  };

  return {
    runtime() {
      if (!running) throw new Error('trading service not started');
      return running.runtime;
    },
    async start() {
      if (running) throw new Error('trading service already started');
      const logger = deps.logger ?? createLogger(config, 'trading');
      const metrics = createMetrics('trading');
      const tradingMetrics = createTradingMetrics(metrics.registry);
      const pool = createPool(config, config.DATABASE_URL, 'tradesage-trading', {
        warm: config.TRADING_DB_POOL_WARM,
      });
      const redis: Redis = createRedis(config, 'commands', config.REDIS_PREFIX, { logger });
      const subscriber: Redis = createRedis(config, 'subscriber', undefined, { logger });
      // ioredis reconnects by itself; an error event without a listener would only be printed.
      for (const client of [redis, subscriber]) {
        client.on('error', (err: unknown) => logger.warn({ err }, 'redis connection error'));
      }
      const catalog = new InstrumentCatalog(
        deps.instruments ?? new GraphqlInstrumentSource(config),
        logger,
        now,
      );
      const release = once(async () => {
        catalog.close();
        await closeConnections(redis, subscriber, pool);
      });

      let engine: ExecutionEngine | undefined;
      try {
        await catalog.open(config.TRADING_CATALOG_REFRESH_MS);
        const pricing = pricingFrom(config);
        const tenantDb: TenantDb = {
          pool,
          gate: new TenantGate(config.TRADING_TENANT_MAX_CONNECTIONS, {
            transactions: tradingMetrics.tenantTransactions,
            waits: tradingMetrics.tenantConnectionWaits,
          }),
        };
        const quotes = new QuoteBook(redis);
        const hub = new EventHub(subscriber, tradingMetrics);
        const registry = new OrderBookRegistry(pool);
        const store = new SessionStore(tenantDb, pricing);
        const publisher = new TradingPublisher(
          redis,
          config.REDIS_PREFIX,
          config.TRADING_TRADE_STREAM_MAXLEN,
          config.TRADING_REALTIME_CACHE_TTL_SECONDS,
          tradingMetrics,
          logger,
        );
        if (config.TRADING_ENGINE_ENABLED) {
          engine = new ExecutionEngine({
            pool: tenantDb,
            redis,
            hub,
            redisPrefix: config.REDIS_PREFIX,
            catalog,
            quotes,
            registry,
            fills: new FillService(store, catalog, quotes, pricing),
            metrics: tradingMetrics,
            logger,
            instanceId,
            lockTtlMs: config.TRADING_ENGINE_LOCK_TTL_MS,
            expiryIntervalMs: config.TRADING_EXPIRY_INTERVAL_MS,
            fillConcurrency: config.TRADING_FILL_CONCURRENCY,
            now,
          });
        }
        const sink = createEffectsSink(engine, publisher);
        engine?.onEffects(sink);
        const orders = new OrderService({
          pool: tenantDb,
          store,
          catalog,
          quotes,
          registry,
          pricing,
          metrics: tradingMetrics,
          logger,
          sink,
          now,
          placementConcurrency: config.TRADING_PLACEMENT_CONCURRENCY,
          accountQueueMax: config.TRADING_ACCOUNT_QUEUE_MAX,
        });
        const accounts = new AccountService(tenantDb, store, quotes, pricing, sink, now);
        const services: TradingServices = { orders, accounts, hub, redisPrefix: config.REDIS_PREFIX };

        const sessions = await subgraphSessionLiveness(config, logger, subscriber, deps.sessions);
        const verifier = createSubgraphVerifier(config, sessions, deps.jwks);

        const { http, attachWs } = createSubgraphHttp({
          name: 'trading',
          config,
          port: config.TRADING_PORT,
          logger,
          metrics,
          readiness: { postgres: () => pingDb(pool), redis: () => pingRedis(redis) },
          resolvers,
          verifier,
          context: (base): TradingContext => ({
            ...base,
            trading: services,
            loaders: createTradingLoaders(accounts, () => callerOf(base)),
          }),
          onStop: [release],
        });
        const ws = await attachWs({ subscriber, subscribeRevocations: deps.sessions !== undefined, now });

        await engine?.start();
        const address = await startHttp(http, [async () => engine?.stop(), () => ws.dispose()]);
        running = {
          http,
          ws,
          runtime: {
            engine,
            orders,
            accounts,
            quotes,
            catalog,
            pool,
            tenantDb,
            redis,
            metrics: tradingMetrics,
          },
        };
        return address;
      } catch (err) {
        await engine?.stop().catch(() => undefined);
        await release();
        throw err;
      }
    },
    stop: () => stopAll(true),
    crash: () => stopAll(false),
  };
}
