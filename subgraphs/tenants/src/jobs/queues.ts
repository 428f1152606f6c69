/**
 * The tenants queues (BullMQ, prefix config.BULLMQ_PREFIX): names, job ids, job options, and the
 * producer side used by the API. The worker side lives in worker.ts.
 */
import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Config } from '../../../../lib/config.js';
import type { Redis } from '../../../../lib/redis.js';
import type { JobModel } from '../models.js';

export const QUEUES = {
  provisioning: 'tenant-provisioning',
  migrations: 'tenant-migrations',
} as const;

/** Job names (shown as `Job.kind`). */
export const JOB_KINDS = {
  provision: 'provision',
  migrateTenants: 'migrate-tenants',
} as const;

export interface ProvisionJobData {
  tenantId: string;
}

export interface ProvisionJobResult {
  tenantId: string;
  schemaName: string;
  status: string;
  migrationsApplied: number;
}

export interface MigrateTenantsJobData {
  /** Only tenants of this template (all templates when absent). */
  template?: string;
}

/** Idempotent id of a tenant's provisioning job: adding it twice queues it once. */
export const provisionJobId = (tenantId: string): string => `provision-${tenantId}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in canonical text form. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** What a job id says about its job: the kind, and the tenant for tenant jobs. */
export type ParsedJobId =
  | { kind: typeof JOB_KINDS.provision; queue: typeof QUEUES.provisioning; tenantId: string }
  | { kind: typeof JOB_KINDS.migrateTenants; queue: typeof QUEUES.migrations };

/** Parses a job id of this service; null for anything else. */
export function parseJobId(id: string): ParsedJobId | null {
  const provision = /^provision-(.+)$/.exec(id);
  if (provision?.[1] && isUuid(provision[1])) {
    return { kind: JOB_KINDS.provision, queue: QUEUES.provisioning, tenantId: provision[1].toLowerCase() };
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
export function jobOptions(config: Pick<Config, 'JOB_ATTEMPTS' | 'JOB_BACKOFF_MS'>): JobsOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS, jitter: 0.5 },
    removeOnComplete: { age: 24 * 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
  };
}

/** The API view of a BullMQ job. */
export async function toJobModel(job: Job): Promise<JobModel> {
  const state = await job.getState();
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

  /**
   * @param connection a Redis client without keyPrefix; a producer should fail fast when Redis is
   *   down (so a tenant is marked FAILED instead of a request hanging), so not the `bullmq` role
   */
  constructor(
    private readonly config: Pick<Config, 'BULLMQ_PREFIX' | 'JOB_ATTEMPTS' | 'JOB_BACKOFF_MS'>,
    connection: Redis,
    onError: (err: Error) => void,
  ) {
    const opts = { connection, prefix: config.BULLMQ_PREFIX, defaultJobOptions: jobOptions(config) };
    this.provisioning = new Queue(QUEUES.provisioning, opts);
    this.migrations = new Queue(QUEUES.migrations, opts);
    // Connection errors surface on the calls that fail; the events only need to be observed.
    this.provisioning.on('error', onError);
    this.migrations.on('error', onError);
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
    const job = await this.provisioning.add(JOB_KINDS.provision, { tenantId }, { jobId: id });
    return toJobModel(job);
  }

  /** The provisioning job of a tenant, if BullMQ still holds it. */
  async provisioningJob(tenantId: string): Promise<Job<ProvisionJobData, ProvisionJobResult> | undefined> {
    return (await this.provisioning.getJob(provisionJobId(tenantId))) ?? undefined;
  }

  /** Queues a migrate-tenants run. */
  async enqueueMigrations(data: MigrateTenantsJobData = {}): Promise<JobModel> {
    const job = await this.migrations.add(JOB_KINDS.migrateTenants, data, {
      jobId: `migrate-tenants-${Date.now()}`,
      // One attempt per run: each tenant is retried by the next run, and a run reports its failures.
      attempts: 1,
    });
    return toJobModel(job);
  }

  /** A job of any tenants queue by id. */
  async find(parsed: ParsedJobId, id: string): Promise<Job | undefined> {
    const queue = parsed.queue === QUEUES.provisioning ? this.provisioning : this.migrations;
    return (await queue.getJob(id)) ?? undefined;
  }

  private async view(id: string): Promise<JobModel> {
    const job = await this.provisioning.getJob(id);
    if (!job) throw new Error(`job ${id} vanished`);
    return toJobModel(job);
  }

  async close(): Promise<void> {
    await Promise.all([this.provisioning.close(), this.migrations.close()]);
  }
}
