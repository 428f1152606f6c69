/**
 * Job lookup (`job(id)`): a tenant's job (provisioning, backup, restore, clone) is visible to its
 * members and platform admins; platform jobs (migrate-tenants) to platform admins only. Everything else
 * is NOT_FOUND, whether it exists or not.
 */
import type { AuthClaims } from '../../../lib/auth.js';
import { notFound } from '../../../lib/errors.js';
import type { BackupRepository } from './backup/backup.repository.js';
import type { BackupRow } from './db/schema.js';
import { parseJobId, toJobModel, type TenantQueues } from './jobs/queues.js';
import type { JobModel } from './models.js';
import { completedProvisioning, type TenantService } from './tenant.service.js';

export class JobService {
  constructor(
    private readonly queues: TenantQueues,
    private readonly tenants: TenantService,
    private readonly backups?: BackupRepository,
  ) {}

  private async member(caller: AuthClaims, tenantId: string): Promise<void> {
    await this.tenants.getTenant(caller, tenantId).catch(() => {
      throw notFound('Job');
    });
  }

  /** The job when the caller may see it; NOT_FOUND otherwise. */
  async getJob(caller: AuthClaims, id: string): Promise<JobModel> {
    const parsed = parseJobId(id);
    if (!parsed) throw notFound('Job');
    if (parsed.kind === 'provision') {
      // Authorizes (members and admins) and tells whether the tenant exists at all.
      const tenant = await this.tenants.getTenant(caller, parsed.tenantId).catch(() => {
        throw notFound('Job');
      });
      const jobId = `provision-${tenant.id}`;
      const job = await this.queues.find(parsed, jobId);
      if (job) {
        if ((job.data as { tenantId?: unknown }).tenantId !== tenant.id) throw notFound('Job');
        return toJobModel(job);
      }
      // BullMQ dropped the finished job (removeOnComplete/removeOnFail): the tenant row still knows.
      switch (tenant.status) {
        case 'ACTIVE':
        case 'SUSPENDED':
          return completedProvisioning(tenant.id);
        case 'FAILED':
          return {
            ...completedProvisioning(tenant.id),
            state: 'failed',
            progress: 0,
            error: 'provisioning failed',
          };
        case 'PROVISIONING':
          throw notFound('Job');
      }
    }
    if (parsed.kind === 'backup') {
      const row = await this.backups?.findById(parsed.backupId);
      if (!row) throw notFound('Job');
      await this.member(caller, row.tenantId);
      const job = await this.queues.find(parsed, id);
      if (job && (job.data as { backupId?: unknown }).backupId === row.id) return toJobModel(job);
      // BullMQ dropped the finished job: the row still knows.
      return backupJobFromRow(id, row);
    }
    if (parsed.kind === 'restore') {
      const job = await this.queues.find(parsed, id);
      const tenantId = (job?.data as { tenantId?: unknown } | undefined)?.tenantId;
      if (!job || typeof tenantId !== 'string') throw notFound('Job');
      await this.member(caller, tenantId);
      return toJobModel(job);
    }
    if (!caller.platformAdmin) throw notFound('Job');
    const job = await this.queues.find(parsed, id);
    if (!job) throw notFound('Job');
    return toJobModel(job);
  }
}

/** A backup job's view from its row, once BullMQ no longer holds the job. */
function backupJobFromRow(id: string, row: BackupRow): JobModel {
  const state = {
    QUEUED: 'waiting',
    RUNNING: 'active',
    VERIFIED: 'completed',
    PRUNED: 'completed',
    FAILED: 'failed',
  }[row.status];
  return {
    id,
    kind: 'backup',
    state,
    progress: state === 'completed' ? 100 : row.progress,
    error: row.error,
    result:
      state === 'completed'
        ? {
            backupId: row.id,
            tenantId: row.tenantId,
            status: row.status,
            path: row.path,
            sizeBytes: row.sizeBytes,
            sha256: row.sha256,
          }
        : null,
  };
}
