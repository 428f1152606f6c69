/**
 * The tenants queues (BullMQ, prefix config.BULLMQ_PREFIX): names, job ids, job options, and the
 * producer side used by the API. The worker side lives in worker.ts.
 */
import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { TenantsConfig } from '../config.js';
import { jobTraceField, type TraceCarrier } from '../../../../lib/telemetry.js';
import type { Redis } from '../../../../lib/redis.js';
import type { JobModel } from '../models.js';

export const QUEUES = {
  provisioning: 'tenant-provisioning',
  migrations: 'tenant-migrations',
  backups: 'tenant-backups',
  restores: 'tenant-restores',
} as const;

/** Job names (shown as `Job.kind`). */
export const JOB_KINDS = {
  provision: 'provision',
  migrateTenants: 'migrate-tenants',
  backup: 'backup',
  /** The scheduled fan-out: retention, then one `backup` job per ACTIVE tenant. */
  nightlyBackups: 'nightly-backups',
  restore: 'restore',
  clone: 'clone',
} as const;

/** Id of the nightly backup job scheduler (upserted by the worker at start, so there is only one). */
export const NIGHTLY_BACKUPS_SCHEDULER = 'nightly-backups';

/** The producer's trace context (lib/telemetry), which the worker's span continues. */
interface Traced {
  trace?: TraceCarrier;
}

export interface ProvisionJobData extends Traced {
  tenantId: string;
}

export interface ProvisionJobResult {
  tenantId: string;
  schemaName: string;
  status: string;
  migrationsApplied: number;
}

export interface MigrateTenantsJobData extends Traced {
  /** Only tenants of this template (all templates when absent). */
  template?: string;
}

/** A `backup` job: one backup row (created before the job is queued). */
export interface BackupJobData extends Traced {
  backupId: string;
  tenantId: string;
  type: 'MANUAL' | 'SCHEDULED' | 'INITIAL';
}

/** Data of the `tenant-backups` queue: a backup, or the nightly fan-out (no data). */
export type BackupsQueueData = BackupJobData | Record<string, never>;

export interface BackupJobResult {
  backupId: string;
  tenantId: string;
  status: string;
  path?: string;
  sizeBytes?: number;
  sha256?: string;
}

/** A `restore` (in place) or `clone` (into a new tenant) job. */
export interface RestoreJobData extends Traced {
  backupId: string;
  /** The tenant the backup belongs to. */
  tenantId: string;
  /** Clone only: the new tenant (created PROVISIONING before the job is queued). */
  targetTenantId?: string;
}

export interface RestoreJobResult {
  backupId: string;
  tenantId: string;
  schema: string;
  bytes: number;
}

/** Idempotent id of a tenant's provisioning job: adding it twice queues it once. */
export const provisionJobId = (tenantId: string): string => `provision-${tenantId}`;
/** Id of a backup's job: the backup row's id, so queueing a backup twice queues it once. */
export const backupJobId = (backupId: string): string => `backup-${backupId}`;
/** Id of a restore or clone job. */
export const restoreJobId = (restoreId: string): string => `restore-${restoreId}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in canonical text form. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** What a job id says about its job: the kind, and the tenant for tenant jobs. */
export type ParsedJobId =
  | { kind: typeof JOB_KINDS.provision; queue: typeof QUEUES.provisioning; tenantId: string }
  | { kind: typeof JOB_KINDS.migrateTenants; queue: typeof QUEUES.migrations }
  | { kind: typeof JOB_KINDS.backup; queue: typeof QUEUES.backups; backupId: string }
  | { kind: typeof JOB_KINDS.restore; queue: typeof QUEUES.restores; restoreId: string };

/** Parses a job id of this service; null for anything else. */
export function parseJobId(id: string): ParsedJobId | null {
  const provision = /^provision-(.+)$/.exec(id);
  if (provision?.[1] && isUuid(provision[1])) {
    return { kind: JOB_KINDS.provision, queue: QUEUES.provisioning, tenantId: provision[1].toLowerCase() };
  }
  const backup = /^backup-(.+)$/.exec(id);
  if (backup?.[1] && isUuid(backup[1])) {
    return { kind: JOB_KINDS.backup, queue: QUEUES.backups, backupId: backup[1].toLowerCase() };
  }
  const restore = /^restore-(.+)$/.exec(id);
  if (restore?.[1] && isUuid(restore[1])) {
    return { kind: JOB_KINDS.restore, queue: QUEUES.restores, restoreId: restore[1].toLowerCase() };
  }
  if (/^migrate-tenants-[A-Za-z0-9_-]{1,100}$/.test(id)) {
    return { kind: JOB_KINDS.migrateTenants, queue: QUEUES.migrations };
  }
  return null;
}

/**
 * Options of every tenants job: retries with exponential backoff and jitter (so a failing database is
 * not hammered in lockstep by every queued tenant), and finished jobs removed after a bound.
 */
export function jobOptions(config: Pick<TenantsConfig, 'JOB_ATTEMPTS' | 'JOB_BACKOFF_MS'>): JobsOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS, jitter: 0.5 },
    removeOnComplete: { age: 24 * 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
  };
}

/**
 * Options of backup, restore and clone jobs: their own attempts and a longer backoff (an MA130 that is
 * away for minutes should not exhaust the retries in seconds), jitter so a nightly run's retries spread.
 */
export function backupJobOptions(
  config: Pick<TenantsConfig, 'BACKUP_JOB_ATTEMPTS' | 'BACKUP_RETRY_DELAY_MS'>,
): JobsOptions {
  return {
    attempts: config.BACKUP_JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.BACKUP_RETRY_DELAY_MS, jitter: 0.5 },
    removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
    removeOnFail: { age: 30 * 24 * 3600, count: 10_000 },
  };
}

/** Priority of MANUAL backup jobs (any value > 0 puts them behind unprioritized jobs). */
export const MANUAL_BACKUP_PRIORITY = 10;

/**
 * BullMQ priority of a backup job. Jobs without a priority are taken before every prioritized one, so
 * scheduled and initial backups (no priority) always go ahead of MANUAL requests: however many tenants
 * ask for manual backups, none of them delays another tenant's nightly backup. Among MANUAL jobs the
 * order is FIFO, and each tenant has at most one queued (BackupService), so tenants take turns.
 */
export function backupPriority(type: BackupJobData['type']): Pick<JobsOptions, 'priority'> {
  return type === 'MANUAL' ? { priority: MANUAL_BACKUP_PRIORITY } : {};
}

/** The API view of a BullMQ job. */
export async function toJobModel(job: Job): Promise<JobModel> {
  let raw = await job.getState();
  // Finished after `job` was read (its result and error are from before): still running as far as
  // this answer's data goes, so a client never sees `completed` with no result; its next poll does.
  if ((raw === 'completed' || raw === 'failed') && job.finishedOn === undefined) raw = 'active';
  // A prioritized job is simply waiting, as far as a client is concerned.
  const state = raw === 'prioritized' ? 'waiting' : raw;
  const progress =
    typeof job.progress === 'number' ? Math.max(0, Math.min(100, Math.round(job.progress))) : 0;
  return {
    id: String(job.id),
    kind: job.name,
    state,
    progress: state === 'completed' ? 100 : progress,
    // While a retry is pending, the last attempt's error explains the delay.
    error: job.failedReason ? job.failedReason : null,
    result: (job.returnvalue as unknown) ?? null,
  };
}

/** Producer side of the tenants queues (the API process). */
export class TenantQueues {
  readonly provisioning: Queue<ProvisionJobData, ProvisionJobResult>;
  readonly migrations: Queue<MigrateTenantsJobData>;
  readonly backups: Queue<BackupsQueueData, BackupJobResult>;
  readonly restores: Queue<RestoreJobData, RestoreJobResult>;

  /**
   * @param connection a Redis client without keyPrefix; a producer should fail fast when Redis is
   *   down (so a tenant is marked FAILED instead of a request hanging), so not the `bullmq` role
   */
  constructor(
    private readonly config: Pick<
      TenantsConfig,
      'BULLMQ_PREFIX' | 'JOB_ATTEMPTS' | 'JOB_BACKOFF_MS' | 'BACKUP_JOB_ATTEMPTS' | 'BACKUP_RETRY_DELAY_MS'
    >,
    connection: Redis,
    onError: (err: Error) => void,
  ) {
    const opts = { connection, prefix: config.BULLMQ_PREFIX, defaultJobOptions: jobOptions(config) };
    const backupOpts = { ...opts, defaultJobOptions: backupJobOptions(config) };
    this.provisioning = new Queue(QUEUES.provisioning, opts);
    this.migrations = new Queue(QUEUES.migrations, opts);
    this.backups = new Queue(QUEUES.backups, backupOpts);
    this.restores = new Queue(QUEUES.restores, backupOpts);
    // Connection errors surface on the calls that fail; the events only need to be observed.
    for (const q of [this.provisioning, this.migrations, this.backups, this.restores]) q.on('error', onError);
  }

  /** Queues a backup's job under its idempotent id (the row exists already); returns the job. */
  async enqueueBackup(data: BackupJobData): Promise<JobModel> {
    const id = backupJobId(data.backupId);
    const existing = await this.backups.getJob(id);
    if (existing) return toJobModel(existing);
    return toJobModel(
      await this.backups.add(
        JOB_KINDS.backup,
        { ...data, ...jobTraceField() },
        { jobId: id, ...backupPriority(data.type) },
      ),
    );
  }

  /** Queues a restore (in place) or a clone. */
  async enqueueRestore(restoreId: string, data: RestoreJobData): Promise<JobModel> {
    const name = data.targetTenantId ? JOB_KINDS.clone : JOB_KINDS.restore;
    return toJobModel(
      await this.restores.add(name, { ...data, ...jobTraceField() }, { jobId: restoreJobId(restoreId) }),
    );
  }

  /** A restore or clone touching the tenant that is still queued or running. */
  async pendingRestore(tenantId: string): Promise<Job<RestoreJobData, RestoreJobResult> | undefined> {
    // Restores are rare and few: scanning the unfinished ones is cheap.
    const jobs = await this.restores.getJobs(['active', 'waiting', 'delayed', 'prioritized']);
    return jobs.find((j) => j.data.tenantId === tenantId || j.data.targetTenantId === tenantId);
  }

  /**
   * Queues the provisioning of a tenant under its idempotent id. A job that is still queued or
   * running is returned as is; a failed one is retried in place (attempts reset); a completed one is
   * re-run only when `rerunCompleted` (a FAILED tenant whose old job record says otherwise).
   */
  async enqueueProvisioning(tenantId: string, opts: { rerunCompleted?: boolean } = {}): Promise<JobModel> {
    const id = provisionJobId(tenantId);
    const existing = await this.provisioning.getJob(id);
    if (existing) {
      const state = await existing.getState();
      if (state === 'failed') {
        await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        return this.view(id);
      }
      if (state !== 'completed' || !opts.rerunCompleted) return toJobModel(existing);
      await existing.remove();
    }
    const job = await this.provisioning.add(
      JOB_KINDS.provision,
      { tenantId, ...jobTraceField() },
      { jobId: id },
    );
    return toJobModel(job);
  }

  /** The provisioning job of a tenant, if BullMQ still holds it. */
  async provisioningJob(tenantId: string): Promise<Job<ProvisionJobData, ProvisionJobResult> | undefined> {
    return (await this.provisioning.getJob(provisionJobId(tenantId))) ?? undefined;
  }

  /** Queues a migrate-tenants run. */
  async enqueueMigrations(data: MigrateTenantsJobData = {}): Promise<JobModel> {
    const job = await this.migrations.add(
      JOB_KINDS.migrateTenants,
      { ...data, ...jobTraceField() },
      {
        jobId: `migrate-tenants-${Date.now()}`,
        // One attempt per run: each tenant is retried by the next run, and a run reports its failures.
        attempts: 1,
      },
    );
    return toJobModel(job);
  }

  /** A job of any tenants queue by id. */
  async find(parsed: ParsedJobId, id: string): Promise<Job | undefined> {
    const queues: Record<ParsedJobId['queue'], Queue> = {
      [QUEUES.provisioning]: this.provisioning,
      [QUEUES.migrations]: this.migrations,
      [QUEUES.backups]: this.backups,
      [QUEUES.restores]: this.restores,
    };
    return (await queues[parsed.queue].getJob(id)) ?? undefined;
  }

  private async view(id: string): Promise<JobModel> {
    const job = await this.provisioning.getJob(id);
    if (!job) throw new Error(`job ${id} vanished`);
    return toJobModel(job);
  }

  async close(): Promise<void> {
    await Promise.all([
      this.provisioning.close(),
      this.migrations.close(),
      this.backups.close(),
      this.restores.close(),
    ]);
  }
}
