/**
 * The tenants worker process: BullMQ workers for `tenant-provisioning` and `tenant-migrations`, plus
 * its own /health, /ready and /metrics (the provisioning metrics live in this process).
 */
import { QueueEvents, Worker } from 'bullmq';
import type pg from 'pg';
import type { Config } from '../../../../lib/config.js';
import { createPool, pingDb } from '../../../../lib/db.js';
import { createHttpService, type HttpService, type Service } from '../../../../lib/http.js';
import { createLogger, type Logger } from '../../../../lib/logger.js';
import { createMetrics } from '../../../../lib/metrics.js';
import { createRedis, pingRedis, type Redis } from '../../../../lib/redis.js';
import { TenantRepository } from '../tenant.repository.js';
import { createProvisioningMetrics } from '../tenants.metrics.js';
import { TemplateRegistry } from '../template.registry.js';
import { migrateTenants, type MigrateTenantsResult } from './migrate-tenants.job.js';
import { Provisioner } from './provision.job.js';
import {
  QUEUES,
  parseJobId,
  type MigrateTenantsJobData,
  type ProvisionJobData,
  type ProvisionJobResult,
} from './queues.js';

export interface TenantsWorkerDeps {
  logger?: Logger;
}

/** The worker service; `provisioner` is exposed so tests can run the processor directly. */
export interface TenantsWorker extends Service {
  /** Available once started. */
  readonly provisioner: Provisioner;
}

interface Running {
  ownerPool: pg.Pool;
  appPool: pg.Pool;
  connection: Redis;
  eventsConnection: Redis;
  provisioning: Worker<ProvisionJobData, ProvisionJobResult>;
  migrations: Worker<MigrateTenantsJobData, MigrateTenantsResult>;
  events: QueueEvents;
  provisioner: Provisioner;
}

/**
 * Creates (without starting) the tenants worker.
 * @param config process configuration (BullMQ prefix, job attempts and backoff, owner and app URLs)
 */
export function createTenantsWorker(config: Config, deps: TenantsWorkerDeps = {}): TenantsWorker {
  const logger = deps.logger ?? createLogger(config, 'tenants-worker');
  const metrics = createMetrics('tenants-worker');
  const provisioningMetrics = createProvisioningMetrics(metrics.registry);
  let running: Running | undefined;

  const http: HttpService = createHttpService({
    name: 'tenants-worker',
    config,
    port: config.tenantsWorkerPort,
    logger,
    metrics,
    readiness: {
      postgres: () => (running ? pingDb(running.appPool) : Promise.resolve(false)),
      redis: () => (running ? pingRedis(running.connection) : Promise.resolve(false)),
    },
  });

  const start = async (): Promise<{ port: number; url: string }> => {
    const ownerPool = createPool(config, config.DATABASE_OWNER_URL, 'tenants-worker-ddl');
    const appPool = createPool(config, config.DATABASE_URL, 'tenants-worker');
    const repo = new TenantRepository(appPool);
    const templates = new TemplateRegistry(config.TENANT_TEMPLATES_DIR);
    const provisioner = new Provisioner({
      config,
      ownerPool,
      appPool,
      repo,
      templates,
      logger,
      metrics: provisioningMetrics,
    });
    // Workers block on Redis: `maxRetriesPerRequest: null` (the `bullmq` role), own connections.
    const connection = createRedis(config, 'bullmq');
    const eventsConnection = createRedis(config, 'bullmq');
    for (const c of [connection, eventsConnection])
      c.on('error', (err) => logger.warn({ err }, 'redis error'));
    const provisioning = new Worker<ProvisionJobData, ProvisionJobResult>(
      QUEUES.provisioning,
      (job) => provisioner.process(job),
      { connection, prefix: config.BULLMQ_PREFIX, concurrency: config.PROVISIONING_CONCURRENCY },
    );
    const migrations = new Worker<MigrateTenantsJobData, MigrateTenantsResult>(
      QUEUES.migrations,
      (job) =>
        migrateTenants(
          { config, ownerPool, repo, templates, logger },
          {
            template: job.data.template,
            onBatch: async (handled) => {
              await job.log(`${handled} tenants handled`);
            },
          },
        ),
      { connection, prefix: config.BULLMQ_PREFIX, concurrency: 1 },
    );
    // A job that failed without its processor seeing the last attempt (stalled too often: the worker
    // died mid-job twice) still leaves its tenant FAILED, not PROVISIONING forever.
    const events = new QueueEvents(QUEUES.provisioning, {
      connection: eventsConnection,
      prefix: config.BULLMQ_PREFIX,
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const parsed = parseJobId(jobId);
      if (parsed?.kind !== 'provision') return;
      repo.markFailed(parsed.tenantId, failedReason, ['PROVISIONING']).catch((err: unknown) => {
        logger.error({ err, jobId }, 'could not mark tenant FAILED');
      });
    });
    for (const w of [provisioning, migrations]) {
      w.on('error', (err) => logger.error({ err }, 'worker error'));
    }
    events.on('error', (err) => logger.error({ err }, 'queue events error'));
    running = {
      ownerPool,
      appPool,
      connection,
      eventsConnection,
      provisioning,
      migrations,
      events,
      provisioner,
    };
    await Promise.all([provisioning.waitUntilReady(), migrations.waitUntilReady(), events.waitUntilReady()]);
    return http.start();
  };

  const stop = async (): Promise<void> => {
    const r = running;
    running = undefined;
    await http.stop();
    if (!r) return;
    // close() lets active jobs finish (BullMQ's SIGTERM advice); a job cut short is recovered as stalled.
    await Promise.all([r.provisioning.close(), r.migrations.close(), r.events.close()]);
    for (const c of [r.connection, r.eventsConnection]) await c.quit().catch(() => c.disconnect());
    await Promise.all([r.ownerPool.end(), r.appPool.end()]);
  };

  return {
    start,
    stop,
    get provisioner(): Provisioner {
      if (!running) throw new Error('tenants worker not started');
      return running.provisioner;
    },
  };
}
