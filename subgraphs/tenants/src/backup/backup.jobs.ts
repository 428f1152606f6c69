/**
 * The processors of the `tenant-backups` and `tenant-restores` queues:
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import type pg from 'pg';
import type { TenantsConfig } from '../config.js';
import type { Logger } from '../../../../lib/logger.js';
import { jobTraceField } from '../../../../lib/telemetry.js';
import type { BackupType } from '../db/schema.js';
import type { Provisioner } from '../jobs/provision.job.js';
import { describeError } from '../jobs/provision.job.js';
import {
  backupJobId,
  JOB_KINDS,
  type BackupJobData,
  type BackupJobResult,
  type BackupsQueueData,
  type RestoreJobData,
  type RestoreJobResult,
} from '../jobs/queues.js';
import { applyTemplateMigrations, grantTenantTables } from '../jobs/tenant-ddl.js';
import { SYSTEM, type TenantRepository } from '../tenant.repository.js';
import { templateTables, type TemplateRegistry } from '../template.registry.js';
import type { BackupKeyring } from './backup-crypto.js';
import { BackupConfigError, isPermanentBackupError } from './backup.errors.js';
import type { BackupMetrics } from './backup.metrics.js';
import { backupRemotePath, runBackup, type BackupSettings } from './backup.pipeline.js';
import type { BackupRepository } from './backup.repository.js';
import { Ma130Connection, Ma130ConnectionPool } from './ma130.client.js';
import { runRestore } from './restore.pipeline.js';
import { pruneBackups, selectForPruning, sweepPartials } from './retention.js';

/** A UUID derived from a name (RFC 9562 version 8 layout), for idempotent ids of scheduled work. */
export function derivedUuid(name: string): string {
  const b = createHash('sha256').update(`tradesage:${name}`).digest().subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x80;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The id of a tenant's INITIAL backup (one per tenant, ever). */
export const initialBackupId = (tenantId: string): string => derivedUuid(`initial-backup:${tenantId}`);
/** The id of a tenant's SCHEDULED backup of a day (`YYYY-MM-DD`, UTC). */
export const scheduledBackupId = (tenantId: string, day: string): string =>
  derivedUuid(`scheduled-backup:${tenantId}:${day}`);

export interface BackupJobsDeps {
  config: Pick<
    TenantsConfig,
    | 'DATABASE_OWNER_URL'
    | 'BACKUP_RETENTION_DAILY'
    | 'BACKUP_RETENTION_WEEKLY'
    | 'BACKUP_RETENTION_MONTHLY'
    | 'TENANT_MIGRATION_BATCH_SIZE'
  >;
  settings: BackupSettings;
  /** Loaded on first use (a missing key fails the jobs permanently, not the worker's start). */
  keyring: () => Promise<BackupKeyring>;
  ownerPool: pg.Pool;
  backups: BackupRepository;
  tenants: TenantRepository;
  templates: TemplateRegistry;
  /** Producer of the backups queue (nightly fan-out). */
  queue: Queue<BackupsQueueData, BackupJobResult>;
  provisioner: () => Provisioner;
  metrics: BackupMetrics;
  logger: Logger;
}

/** The part of a BullMQ job the processors use (tests pass their own). */
export type JobLike<D> = Pick<
  Job<D>,
  'data' | 'attemptsMade' | 'opts' | 'updateProgress' | 'name' | 'timestamp'
>;

const isFinalAttempt = (job: JobLike<unknown>): boolean => job.attemptsMade + 1 >= (job.opts.attempts ?? 1);

/**
 * - `backup`: one backup row, QUEUED -> RUNNING -> VERIFIED (or back to QUEUED for a retry, or FAILED).
 *   The row says VERIFIED only after the file was read back, matched and renamed into place.
 * - `nightly-backups` (the job scheduler's job): retention and the sweep of stale `.part` files, then
 *   one `backup` job per ACTIVE tenant, with ids derived from the tenant and the day, so a repeated
 *   run (retry, two workers) queues nothing twice.
 * - `restore` / `clone`: restore a VERIFIED backup in place, or into a new tenant that is then
 *   provisioned around it (role, grants, newer migrations) and activated.
 *
 * Every step is safe to run twice. Permanent faults become BullMQ `UnrecoverableError`s.
 */
export class BackupJobs {
  /** MA130 sessions shared by this worker's backups (a nightly run makes hundreds). */
  private readonly ma130: Ma130ConnectionPool;

  constructor(private readonly deps: BackupJobsDeps) {
    this.ma130 = new Ma130ConnectionPool(deps.settings.ma130);
  }

  /** Closes the idle MA130 sessions (worker shutdown). */
  close(): void {
    this.ma130.close();
  }

  /** Creates the INITIAL backup row of a tenant and queues its job (idempotent). */
  async queueInitial(tenantId: string): Promise<void> {
    await this.queueBackup(tenantId, initialBackupId(tenantId), 'INITIAL');
  }

  private async queueBackup(tenantId: string, backupId: string, type: BackupType): Promise<void> {
    const jobId = backupJobId(backupId);
    await this.deps.backups.createQueued({ id: backupId, tenantId, type, jobId });
    await this.deps.queue.add(JOB_KINDS.backup, { backupId, tenantId, type, ...jobTraceField() }, { jobId });
  }

  /** Processor of `backup` jobs. */
  async backup(job: JobLike<BackupJobData>): Promise<BackupJobResult> {
    const { backupId, tenantId, type } = job.data;
    const { backups, metrics, logger } = this.deps;
    const started = performance.now();
    try {
      const tenant = await this.deps.tenants.findById(SYSTEM, tenantId);
      if (!tenant) throw new UnrecoverableError(`unknown tenant ${tenantId}`);
      if (tenant.status !== 'ACTIVE' && tenant.status !== 'SUSPENDED') {
        throw new UnrecoverableError(`tenant is ${tenant.status}; only provisioned tenants are backed up`);
      }
      const row = await backups.startRun(backupId);
      if (!row) {
        const existing = await backups.findById(backupId);
        if (existing?.status === 'VERIFIED' || existing?.status === 'PRUNED') {
          // Done by an earlier run (the job was re-added after BullMQ dropped the finished one).
          return { backupId, tenantId, status: existing.status };
        }
        throw new UnrecoverableError(
          existing ? `backup is ${existing.status}` : `unknown backup ${backupId}`,
        );
      }
      await job.updateProgress(1);
      const request = {
        backupId,
        tenantId,
        schemaName: tenant.schemaName,
        startedAt: row.startedAt,
        type: row.type,
      };
      await backups.setPath(backupId, backupRemotePath(this.deps.settings.ma130.basePath, request));
      let recorded = 1;
      const result = await runBackup(
        {
          ownerPool: this.deps.ownerPool,
          settings: this.deps.settings,
          keyring: await this.deps.keyring(),
          logger,
          ma130: this.ma130,
        },
        request,
        async (p) => {
          await job.updateProgress(p.percent);
          // The row is read by `tenant { backups }`; a write per 5% is plenty.
          if (p.percent >= recorded + 5 && p.percent < 100) {
            recorded = p.percent;
            await backups.setProgress(backupId, p.percent);
          }
        },
      );
      const m = result.manifest;
      await backups.markVerified(backupId, {
        path: result.remotePath,
        sizeBytes: m.sizeBytes,
        sha256: m.sha256,
        keyId: m.encryption.keyId,
        gzipLevel: m.gzipLevel,
        dumpBytes: m.dumpBytes,
        rowCounts: m.rowCounts,
      });
      metrics.duration.observe({ type, result: 'success' }, (performance.now() - started) / 1000);
      metrics.bytes.observe({ type }, m.sizeBytes);
      metrics.recordSuccess();
      return {
        backupId,
        tenantId,
        status: 'VERIFIED',
        path: result.remotePath,
        sizeBytes: m.sizeBytes,
        sha256: m.sha256,
      };
    } catch (err) {
      metrics.duration.observe({ type, result: 'error' }, (performance.now() - started) / 1000);
      const permanent = err instanceof UnrecoverableError || isPermanentBackupError(err);
      const final = permanent || isFinalAttempt(job);
      const detail = describeError(err);
      metrics.failures.inc({ type, reason: permanent ? 'permanent' : final ? 'final' : 'transient' });
      logger.warn(
        { backupId, tenantId, attempt: job.attemptsMade + 1, final, error: detail },
        'backup attempt failed',
      );
      if (final)
        await backups
          .markFailed(backupId, detail)
          .catch((e: unknown) => logger.error({ err: e }, 'could not mark backup FAILED'));
      else
        await backups
          .markRetrying(backupId, detail)
          .catch((e: unknown) => logger.error({ err: e }, 'could not mark backup for retry'));
      if (permanent) throw err instanceof UnrecoverableError ? err : new UnrecoverableError(detail);
      throw new Error(detail, { cause: err });
    }
  }

  /** Processor of the scheduled `nightly-backups` job: retention, then the fan-out. */
  async nightly(job: JobLike<unknown>): Promise<{ day: string; tenants: number; pruned: number }> {
    // A scheduler's job is created when the previous run finishes, delayed until its run time: the
    // night it belongs to is creation + delay.
    const runAt = (job.timestamp || Date.now()) + (job.opts.delay ?? 0);
    const day = new Date(runAt).toISOString().slice(0, 10);
    let pruned = 0;
    try {
      pruned = await this.applyRetention();
    } catch (err) {
      // Retention is housekeeping: tonight's backups matter more; the next run prunes.
      this.deps.logger.error({ error: describeError(err) }, 'backup retention failed');
    }
    let tenants = 0;
    let after: string | undefined;
    for (;;) {
      const batch = await this.deps.tenants.activeBatch(after, this.deps.config.TENANT_MIGRATION_BATCH_SIZE);
      if (batch.length === 0) break;
      after = batch[batch.length - 1]?.id;
      const rows = batch.map((t) => {
        const id = scheduledBackupId(t.id, day);
        return { id, tenantId: t.id, type: 'SCHEDULED' as const, jobId: backupJobId(id) };
      });
      await this.deps.backups.createQueuedMany(rows);
      // Ids already present (an earlier run of this day) are ignored by BullMQ.
      await this.deps.queue.addBulk(
        rows.map((r) => ({
          name: JOB_KINDS.backup,
          data: { backupId: r.id, tenantId: r.tenantId, type: r.type },
          opts: { jobId: r.jobId },
        })),
      );
      tenants += batch.length;
      await job.updateProgress(Math.min(99, tenants));
    }
    this.deps.logger.info({ day, tenants, pruned }, 'nightly backups queued');
    return { day, tenants, pruned };
  }

  /** Deletes what the retention policy no longer keeps, and stale `.part` files. @returns backups pruned */
  async applyRetention(now = new Date()): Promise<number> {
    const { config, backups, settings, logger } = this.deps;
    const verified = await backups.listVerified();
    const ids = new Set(
      selectForPruning(
        verified.map((b) => ({ id: b.id, tenantId: b.tenantId, startedAt: b.startedAt, verified: true })),
        {
          daily: config.BACKUP_RETENTION_DAILY,
          weekly: config.BACKUP_RETENTION_WEEKLY,
          monthly: config.BACKUP_RETENTION_MONTHLY,
        },
      ),
    );
    const items = verified
      .filter((b) => ids.has(b.id) && b.path)
      .map((b) => ({ id: b.id, remotePath: b.path as string }));
    const conn = await Ma130Connection.connect(settings.ma130);
    try {
      const done = await pruneBackups(
        conn,
        items,
        (id) => backups.markPruned(id),
        (id, err) => logger.warn({ backupId: id, error: describeError(err) }, 'could not prune backup'),
      );
      await sweepPartials(conn, now, 24 * 3600 * 1000);
      return done.length;
    } finally {
      conn.close();
    }
  }

  /** Processor of `restore` and `clone` jobs. */
  async restore(job: JobLike<RestoreJobData>): Promise<RestoreJobResult> {
    const { backupId, tenantId, targetTenantId } = job.data;
    const kind = targetTenantId ? 'clone' : 'restore';
    const { backups, tenants, logger, metrics } = this.deps;
    try {
      const row = await backups.findById(backupId);
      if (!row || row.tenantId !== tenantId) throw new UnrecoverableError(`unknown backup ${backupId}`);
      if (row.status !== 'VERIFIED' || !row.path || !row.sha256) {
        throw new UnrecoverableError(`backup ${backupId} is ${row.status}, not restorable`);
      }
      const source = await tenants.findById(SYSTEM, tenantId);
      if (!source) throw new UnrecoverableError(`unknown tenant ${tenantId}`);
      const restoreDeps = {
        ownerPool: this.deps.ownerPool,
        settings: this.deps.settings,
        keyring: await this.deps.keyring(),
        logger,
      };
      const template = await this.deps.templates.load(source.template);
      const from = {
        remotePath: row.path,
        sha256: row.sha256,
        sizeBytes: row.sizeBytes,
        schema: source.schemaName,
        tenantId,
        rowCounts: row.rowCounts ?? undefined,
        templateTables: await templateTables(template),
      };
      const progress = async (p: { percent: number }): Promise<void> => {
        await job.updateProgress(Math.round(targetTenantId ? p.percent * 0.8 : p.percent));
      };
      let result: RestoreJobResult;
      if (!targetTenantId) {
        const r = await runRestore(
          restoreDeps,
          from,
          { kind: 'in-place' },
          {
            // A backup from before a template migration: bring the schema to today's version.
            afterCommit: async (client, schema) => {
              await applyTemplateMigrations(this.deps.config, template, schema);
              await grantTenantTables(client, template, schema, schema);
            },
          },
          progress,
        );
        result = { backupId, tenantId, schema: r.schema, bytes: r.bytes };
      } else {
        const target = await tenants.findById(SYSTEM, targetTenantId);
        if (!target) throw new UnrecoverableError(`unknown clone tenant ${targetTenantId}`);
        const exists = await this.deps.ownerPool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [
          target.schemaName,
        ]);
        let bytes = 0;
        // A retry after the restore committed goes straight to provisioning.
        if (exists.rowCount === 0) {
          const r = await runRestore(
            restoreDeps,
            from,
            { kind: 'clone', tenantId: targetTenantId, schema: target.schemaName },
            {},
            progress,
          );
          bytes = r.bytes;
        }
        // Role, grants, newer template migrations, ACTIVE (and its INITIAL backup), like any tenant.
        await this.deps
          .provisioner()
          .provision(targetTenantId, (p) => job.updateProgress(80 + Math.round(p / 5)));
        result = { backupId, tenantId: targetTenantId, schema: target.schemaName, bytes };
      }
      metrics.restores.inc({ kind, result: 'success' });
      logger.info({ backupId, tenantId, targetTenantId }, `${kind} finished`);
      return result;
    } catch (err) {
      const permanent = err instanceof UnrecoverableError || isPermanentBackupError(err);
      const final = permanent || isFinalAttempt(job);
      const detail = describeError(err);
      logger.warn({ backupId, tenantId, targetTenantId, final, error: detail }, `${kind} attempt failed`);
      if (final) {
        metrics.restores.inc({ kind, result: 'failure' });
        if (targetTenantId) {
          await tenants.markFailed(targetTenantId, `clone failed: ${detail}`).catch(() => undefined);
        }
      }
      if (permanent) throw err instanceof UnrecoverableError ? err : new UnrecoverableError(detail);
      throw new Error(detail, { cause: err });
    }
  }
}

/** The keyring loader of a configuration: loaded once, errors kept as permanent config errors. */
export function lazyKeyring(load: () => Promise<BackupKeyring>): () => Promise<BackupKeyring> {
  let ring: Promise<BackupKeyring> | undefined;
  return () => {
    ring ??= load().catch((err: unknown) => {
      ring = undefined;
      throw err instanceof BackupConfigError
        ? err
        : new BackupConfigError(describeError(err), { cause: err });
    });
    return ring;
  };
}
