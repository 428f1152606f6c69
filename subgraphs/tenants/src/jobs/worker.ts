/**
 * The tenants worker process: BullMQ workers for `tenant-provisioning`, `tenant-migrations`,
 * `tenant-backups` (backups and the nightly fan-out) and `tenant-restores` (restores and clones), plus
 * its own /health, /ready and /metrics (the provisioning and backup metrics live in this process).
 * The nightly backup job scheduler is upserted here, at start, and nowhere else: every worker replica
 * upserts the same scheduler id, so there is only ever one schedule.
 */
import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import type pg from 'pg';
import type { TenantsConfig } from '../config.js';
import { createPool, pingDb } from '../../../../lib/db.js';
import { createHttpService, type HttpService, type Service } from '../../../../lib/http.js';
import { createLogger, type Logger } from '../../../../lib/logger.js';
import { createMetrics } from '../../../../lib/metrics.js';
import { createRedis, pingRedis, type Redis } from '../../../../lib/redis.js';
import { tracedProcessor } from '../../../../lib/telemetry.js';
import { loadBackupKeyring } from '../backup/backup-crypto.js';
import { BackupJobs, lazyKeyring } from '../backup/backup.jobs.js';
import { createBackupMetrics, SCHEMA_SIZE_TOP } from '../backup/backup.metrics.js';
import { backupSettings } from '../backup/backup.pipeline.js';
import { BackupRepository } from '../backup/backup.repository.js';
import { ma130Settings } from '../backup/ma130.client.js';
import {
  createMa130ReachableGauge,
  startMa130Reachability,
  type Ma130Reachability,
} from '../backup/ma130.probe.js';
import { TenantRepository } from '../tenant.repository.js';
import {
  createProvisioningMetrics,
  createQueueGauges,
  createSchemaPoolMetrics,
  type QueueReading,
} from '../tenants.metrics.js';
import { TemplateRegistry } from '../template.registry.js';
import { migrateTenants, type MigrateTenantsResult } from './migrate-tenants.job.js';
import { Provisioner } from './provision.job.js';
import { SchemaPool } from './schema-pool.js';
import {
  backupJobOptions,
  JOB_KINDS,
  NIGHTLY_BACKUPS_SCHEDULER,
  QUEUES,
  parseJobId,
  type BackupJobData,
  type BackupJobResult,
  type BackupsQueueData,
  type MigrateTenantsJobData,
  type ProvisionJobData,
  type ProvisionJobResult,
  type RestoreJobData,
  type RestoreJobResult,
} from './queues.js';

export interface TenantsWorkerDeps {
  logger?: Logger;
}

/** The worker service; `provisioner` and `backups` are exposed so tests can run processors directly. */
export interface TenantsWorker extends Service {
  /** Available once started. */
  readonly provisioner: Provisioner;
  /** Available once started. */
  readonly backups: BackupJobs;
  /** MA130 reachability (undefined when backups are not configured or before start). */
  readonly ma130: Ma130Reachability | undefined;
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
  pool: SchemaPool;
  backupConnection: Redis;
  backupEventsConnection: Redis;
  backupQueue: Queue<BackupsQueueData, BackupJobResult>;
  backupWorker: Worker<BackupsQueueData, unknown>;
  restoreWorker: Worker<RestoreJobData, RestoreJobResult>;
  backupEvents: QueueEvents;
  backups: BackupJobs;
  ma130: Ma130Reachability | undefined;
  /** Read-only handles of every queue, for the queue gauges. */
  observed: Queue[];
}

/** Counts and the oldest waiting job of one queue. */
async function readQueue(queue: Queue): Promise<QueueReading> {
  const c = await queue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed');
  const waiting = (c['wait'] ?? 0) + (c['prioritized'] ?? 0);
  let oldest = 0;
  if (waiting > 0) {
    // Oldest first: ascending order of the wait list.
    const [first] = await queue.getJobs(['wait', 'prioritized'], 0, 0, true);
    if (first) oldest = Math.max(0, (Date.now() - first.timestamp) / 1000);
  }
  return {
    counts: { waiting, active: c['active'] ?? 0, delayed: c['delayed'] ?? 0, failed: c['failed'] ?? 0 },
    oldestWaitingSeconds: oldest,
  };
}

/**
 * Creates (without starting) the tenants worker.
 * @param config process configuration (BullMQ prefix, job attempts and backoff, owner and app URLs)
 */
export function createTenantsWorker(config: TenantsConfig, deps: TenantsWorkerDeps = {}): TenantsWorker {
  const logger = deps.logger ?? createLogger(config, 'tenants-worker');
  const metrics = createMetrics('tenants-worker');
  const provisioningMetrics = createProvisioningMetrics(metrics.registry);
  const poolMetrics = createSchemaPoolMetrics(
    metrics.registry,
    () => (running ? running.pool.ready() : Promise.resolve(0)),
    (err) => logger.warn({ err }, 'schema pool metrics collection failed'),
  );
  let running: Running | undefined;
  // Backups need a pinned MA130 host key; without one (tests of other features, a fresh checkout
  // before `make dev` starts the development MA130) nothing is scheduled or queued automatically.
  const backupsConfigured = config.MA130_HOST_KEY_SHA256 !== undefined;
  const backupMetrics = createBackupMetrics(
    metrics.registry,
    async () => {
      if (!running) throw new Error('tenants worker not started');
      const fleet = await new BackupRepository(running.appPool).fleet(
        config.BACKUP_STALE_AFTER_HOURS * 3600,
        config.TENANT_SCHEMA_QUOTA_BYTES,
        SCHEMA_SIZE_TOP,
      );
      return { ...fleet, configured: backupsConfigured, quotaBytes: config.TENANT_SCHEMA_QUOTA_BYTES };
    },
    (err) => logger.warn({ err }, 'backup metrics collection failed'),
  );
  const ma130Gauge = createMa130ReachableGauge(metrics.registry);
  createQueueGauges(
    metrics.registry,
    async () => {
      if (!running) throw new Error('tenants worker not started');
      const readings = await Promise.all(running.observed.map(readQueue));
      return new Map(running.observed.map((q, i) => [q.name, readings[i] as QueueReading]));
    },
    (err) => logger.warn({ err }, 'queue metrics collection failed'),
  );

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
    // Non-fatal: without the MA130 only backups stop; provisioning and migrations go on. Answered
    // from the last background probe, so /ready never waits for an SSH handshake.
    ...(backupsConfigured
      ? { optionalChecks: { ma130: () => running?.ma130?.check() ?? Promise.resolve(false) } }
      : {}),
  });

  const start = async (): Promise<{ port: number; url: string }> => {
    const ownerPool = createPool(config, config.DATABASE_OWNER_URL, 'tenants-worker-ddl');
    const appPool = createPool(config, config.DATABASE_URL, 'tenants-worker');
    const repo = new TenantRepository(appPool);
    const templates = new TemplateRegistry(config.TENANT_TEMPLATES_DIR);
    // Producer of the backups queue (nightly fan-out, INITIAL backups): waits for Redis rather than
    // failing while it restarts (the `bullmq` role).
    const backupConnection = createRedis(config, 'bullmq', undefined, { logger });
    const backupEventsConnection = createRedis(config, 'bullmq', undefined, { logger });
    const backupQueue = new Queue<BackupsQueueData, BackupJobResult>(QUEUES.backups, {
      connection: backupConnection,
      prefix: config.BULLMQ_PREFIX,
      defaultJobOptions: backupJobOptions(config),
    });
    const pool = new SchemaPool({
      config,
      ownerPool,
      templates,
      logger,
      onClaim: (hit) => poolMetrics.claims.inc({ result: hit ? 'hit' : 'miss' }),
    });
    const provisioner: Provisioner = new Provisioner({
      config,
      ownerPool,
      appPool,
      repo,
      templates,
      logger,
      metrics: provisioningMetrics,
      pool,
      // `backups` is created just below; this only runs once jobs are processed.
      onProvisioned: backupsConfigured ? (tenantId) => backups.queueInitial(tenantId) : undefined,
    });
    const backups = new BackupJobs({
      config,
      settings: backupSettings(config),
      keyring: lazyKeyring(() => loadBackupKeyring(config)),
      ownerPool,
      backups: new BackupRepository(appPool),
      tenants: repo,
      templates,
      queue: backupQueue,
      provisioner: () => provisioner,
      metrics: backupMetrics,
      logger,
    });

    // Workers block on Redis: `maxRetriesPerRequest: null` (the `bullmq` role), own connections.
    const connection = createRedis(config, 'bullmq', undefined, { logger });
    const eventsConnection = createRedis(config, 'bullmq', undefined, { logger });
    const provisioning = new Worker<ProvisionJobData, ProvisionJobResult>(
      QUEUES.provisioning,
      tracedProcessor(QUEUES.provisioning, (job: Job<ProvisionJobData, ProvisionJobResult>) =>
        provisioner.process(job),
      ),
      { connection, prefix: config.BULLMQ_PREFIX, concurrency: config.PROVISIONING_CONCURRENCY },
    );
    const migrations = new Worker<MigrateTenantsJobData, MigrateTenantsResult>(
      QUEUES.migrations,
      tracedProcessor(QUEUES.migrations, (job: Job<MigrateTenantsJobData, MigrateTenantsResult>) =>
        migrateTenants(
          { config, ownerPool, repo, templates, logger },
          {
            template: job.data.template,
            onBatch: async (handled) => {
              await job.log(`${handled} tenants handled`);
            },
          },
        ),
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
    // Backups and restores: the lock is renewed every half of BACKUP_JOB_LOCK_MS while a job runs; a job
    // whose worker died is found stalled after about that long and run again (every step is safe to
    // repeat). A job that stalls a third time fails for good.
    const lockOpts = {
      connection,
      prefix: config.BULLMQ_PREFIX,
      lockDuration: config.BACKUP_JOB_LOCK_MS,
      stalledInterval: config.BACKUP_JOB_LOCK_MS,
      maxStalledCount: 2,
    };
    const backupWorker = new Worker<BackupsQueueData, unknown>(
      QUEUES.backups,
      tracedProcessor(QUEUES.backups, (job: Job<BackupsQueueData>): Promise<unknown> =>
        job.name === JOB_KINDS.nightlyBackups
          ? backups.nightly(job)
          : backups.backup(job as typeof job & { data: BackupJobData }),
      ),
      { ...lockOpts, concurrency: config.BACKUP_CONCURRENCY },
    );
    const restoreWorker = new Worker<RestoreJobData, RestoreJobResult>(
      QUEUES.restores,
      tracedProcessor(QUEUES.restores, (job: Job<RestoreJobData, RestoreJobResult>) => backups.restore(job)),
      { ...lockOpts, concurrency: 1 },
    );
    // A backup job that failed without its processor seeing the last attempt (stalled too often)
    // still leaves its row FAILED, never RUNNING forever.
    const backupEvents = new QueueEvents(QUEUES.backups, {
      connection: backupEventsConnection,
      prefix: config.BULLMQ_PREFIX,
    });
    const backupRepo = new BackupRepository(appPool);
    backupEvents.on('failed', ({ jobId, failedReason }) => {
      const parsed = parseJobId(jobId);
      if (parsed?.kind !== 'backup') return;
      backupRepo.markFailed(parsed.backupId, failedReason).catch((err: unknown) => {
        logger.error({ err, jobId }, 'could not mark backup FAILED');
      });
    });
    for (const w of [provisioning, migrations, backupWorker, restoreWorker]) {
      w.on('error', (err) => logger.error({ err }, 'worker error'));
    }
    for (const e of [events, backupEvents])
      e.on('error', (err) => logger.error({ err }, 'queue events error'));
    backupQueue.on('error', (err) => logger.warn({ err }, 'backup queue error'));
    // On the producer connection (non-blocking): only counted, never worked.
    const observed = Object.values(QUEUES).map(
      (name) => new Queue(name, { connection: backupConnection, prefix: config.BULLMQ_PREFIX }),
    );
    for (const q of observed) q.on('error', (err) => logger.warn({ err }, 'queue metrics error'));
    const ma130 = backupsConfigured
      ? startMa130Reachability({
          settings: ma130Settings(config),
          intervalMs: config.MA130_CHECK_INTERVAL_MS,
          gauge: ma130Gauge,
          onChange: (r) => {
            if (r.ok) logger.info('MA130 reachable');
            else logger.warn({ step: r.step, reason: r.reason }, 'MA130 unreachable');
          },
        })
      : undefined;
    running = {
      ownerPool,
      appPool,
      connection,
      eventsConnection,
      provisioning,
      migrations,
      events,
      provisioner,
      pool,
      backupConnection,
      backupEventsConnection,
      backupQueue,
      backupWorker,
      restoreWorker,
      backupEvents,
      backups,
      ma130,
      observed,
    };
    await Promise.all(
      [provisioning, migrations, backupWorker, restoreWorker, events, backupEvents].map((x) =>
        x.waitUntilReady(),
      ),
    );
    // The one place the nightly schedule is written. Upserting is idempotent: replicas and restarts
    // update the same scheduler instead of adding schedules.
    if (backupsConfigured && config.BACKUP_SCHEDULE_ENABLED) {
      await backupQueue.upsertJobScheduler(
        NIGHTLY_BACKUPS_SCHEDULER,
        { pattern: config.BACKUP_CRON, tz: config.BACKUP_CRON_TZ },
        { name: JOB_KINDS.nightlyBackups, data: {}, opts: { attempts: 3 } },
      );
    } else {
      await backupQueue.removeJobScheduler(NIGHTLY_BACKUPS_SCHEDULER);
      if (!backupsConfigured)
        logger.warn('MA130_HOST_KEY_SHA256 is not set: automatic tenant backups are off');
    }
    pool.start();
    return http.start();
  };

  const stop = async (): Promise<void> => {
    const r = running;
    running = undefined;
    await http.stop();
    if (!r) return;
    // close() lets active jobs finish (BullMQ's SIGTERM advice); a job cut short is recovered as stalled.
    // A pool entry mid-build is finished too (or dropped by the next round if this process dies).
    await Promise.all([
      r.pool.stop(),
      ...[
        r.provisioning,
        r.migrations,
        r.backupWorker,
        r.restoreWorker,
        r.events,
        r.backupEvents,
        r.backupQueue,
        ...r.observed,
      ].map((x) => x.close()),
    ]);
    r.backups.close();
    r.ma130?.stop();
    for (const c of [r.connection, r.eventsConnection, r.backupConnection, r.backupEventsConnection])
      await c.quit().catch(() => c.disconnect());
    await Promise.all([r.ownerPool.end(), r.appPool.end()]);
  };

  return {
    start,
    stop,
    get provisioner(): Provisioner {
      if (!running) throw new Error('tenants worker not started');
      return running.provisioner;
    },
    get backups(): BackupJobs {
      if (!running) throw new Error('tenants worker not started');
      return running.backups;
    },
    get ma130(): Ma130Reachability | undefined {
      return running?.ma130;
    },
  };
}
