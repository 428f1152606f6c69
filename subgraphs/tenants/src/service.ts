/**
 * The tenants subgraph service: GraphQL on /graphql, the seed's REST endpoints, the gateway's internal
 * endpoint (/internal/tenants/:id/limits), /health, /ready and /metrics. No side effects until start().
 */
import type pg from 'pg';
import { CachedSessionLiveness } from '../../../lib/auth.js';
import type { TenantsConfig } from './config.js';
import { createPool, pingDb } from '../../../lib/db.js';
import type { HttpService } from '../../../lib/http.js';
import { createLogger, type Logger } from '../../../lib/logger.js';
import { createMetrics } from '../../../lib/metrics.js';
import { createRedis, pingRedis, type Redis } from '../../../lib/redis.js';
import { RequestThrottle } from '../../../lib/request-throttle.js';
import { createSubgraphHttp, createSubgraphVerifier } from '../../../lib/subgraph-service.js';
import type { HeaderVerifier } from '../../../lib/token-cache.js';
import { createBackupRefusalsCounter } from './backup/backup.metrics.js';
import { BackupRepository } from './backup/backup.repository.js';
import { BackupService } from './backup/backup.service.js';
import type { TenantsContext, TenantsServices } from './context.js';
import type { TenantStatus } from './db/schema.js';
import { HealthService } from './health.service.js';
import { JobService } from './job.service.js';
import { TenantQueues } from './jobs/queues.js';
import { resolvers } from './resolvers/index.js';
import { mountInternalRoutes } from './internal.routes.js';
import { mountRestRoutes } from './rest.routes.js';
import { TenantLimitsService } from './tenant-limits.js';
import { TenantRepository } from './tenant.repository.js';
import { TenantService } from './tenant.service.js';
import { createLimitRefusalsCounter, createTenantsByStatusGauge } from './tenants.metrics.js';
import { TemplateRegistry } from './template.registry.js';

export interface TenantsServiceDeps {
  /**
   * Token verifier. Default: auth's JWKS plus session liveness from the sessions service (revocations
   * from Redis). Tests of this subgraph alone pass one with a local JWKS and `null` liveness.
   */
  verifier?: HeaderVerifier;
  logger?: Logger;
}

interface Running {
  pool: pg.Pool;
  redis: Redis;
  subscriber: Redis | undefined;
  queues: TenantQueues;
  services: TenantsServices;
}

/**
 * Creates (without starting) the tenants service on config.TENANTS_PORT.
 * @param deps optional verifier and logger (see {@link TenantsServiceDeps})
 */
export function createTenantsService(config: TenantsConfig, deps: TenantsServiceDeps = {}): HttpService {
  const logger = deps.logger ?? createLogger(config, 'tenants');
  const metrics = createMetrics('tenants');
  const liveness = deps.verifier ? undefined : new CachedSessionLiveness(config, logger);
  const verifier = deps.verifier ?? createSubgraphVerifier(config, liveness ?? null);
  const limitRefusals = createLimitRefusalsCounter(metrics.registry);
  let running: Running | undefined;

  const services = (): TenantsServices => {
    if (!running) throw new Error('tenants service not started');
    return running.services;
  };

  const backupRefusals = createBackupRefusalsCounter(metrics.registry);
  createTenantsByStatusGauge(
    metrics.registry,
    () =>
      running ? running.services.tenants.countByStatus() : Promise.resolve(new Map<TenantStatus, number>()),
    (err) => logger.warn({ err }, 'tenants_by_status collection failed'),
  );

  const { http } = createSubgraphHttp({
    name: 'tenants',
    config,
    port: config.TENANTS_PORT,
    logger,
    metrics,
    readiness: {
      postgres: () => (running ? pingDb(running.pool) : Promise.resolve(false)),
      redis: () => (running ? pingRedis(running.redis) : Promise.resolve(false)),
    },
    resolvers,
    verifier,
    context: (base): TenantsContext => ({ ...base, services: services() }),
    routes: (app) => {
      mountRestRoutes(app, verifier, services);
      mountInternalRoutes(app, config, services);
    },
    onStop: [
      async () => {
        const r = running;
        running = undefined;
        if (!r) return;
        await r.queues.close();
        for (const c of [r.redis, r.subscriber]) if (c) await c.quit().catch(() => c.disconnect());
        await r.pool.end();
      },
    ],
  });

  return {
    app: http.app,
    server: http.server,
    async start() {
      const pool = createPool(config, config.DATABASE_URL, 'tenants');
      // Producer connection: fails fast when Redis is away (see TenantQueues), no key prefix (BullMQ has its own).
      const redis = createRedis(config, 'commands', undefined, { logger });
      let subscriber: Redis | undefined;
      if (liveness) {
        subscriber = createRedis(config, 'subscriber', undefined, { logger });
        await liveness.listen(subscriber, config.REDIS_PREFIX);
      }
      const queues = new TenantQueues(config, redis, (err) => logger.warn({ err }, 'queue connection error'));
      const repo = new TenantRepository(pool, {
        maxOwnedPerUser: config.TENANTS_MAX_OWNED_PER_USER,
        onOwnedCapReached: () => limitRefusals.inc({ limit: 'owned_per_user' }),
      });
      const templates = new TemplateRegistry(config.TENANT_TEMPLATES_DIR);
      // The producer connection has no key prefix (BullMQ's own), so the throttle names the full key.
      const createThrottle = new RequestThrottle(redis, {
        keyPrefix: `${config.REDIS_PREFIX}tenants:throttle:create-ip`,
        points: config.TENANT_CREATE_THROTTLE_PER_IP,
        windowSeconds: config.TENANT_CREATE_THROTTLE_WINDOW_SECONDS,
        what: 'organizations created from your address',
        onRefused: () => limitRefusals.inc({ limit: 'create_ip' }),
      });
      const tenants = new TenantService(config, repo, templates, queues, logger, createThrottle);
      const backupRepo = new BackupRepository(pool);
      running = {
        pool,
        redis,
        subscriber,
        queues,
        services: {
          tenants,
          health: new HealthService(pool, templates, {
            backups: backupRepo,
            configured: config.MA130_HOST_KEY_SHA256 !== undefined,
            staleAfterHours: config.BACKUP_STALE_AFTER_HOURS,
            quotaBytes: config.TENANT_SCHEMA_QUOTA_BYTES,
          }),
          jobs: new JobService(queues, tenants, backupRepo),
          backups: new BackupService(config, repo, backupRepo, queues, logger, backupRefusals),
          // Published on the producer connection: pub/sub channels carry REDIS_PREFIX themselves.
          limits: new TenantLimitsService(config, repo, redis, logger),
        },
      };
      return http.start();
    },
    stop: () => http.stop(),
  };
}
