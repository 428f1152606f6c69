/**
 * Rules of backups, restores and clones on the API side: who may ask (platform admins, or the
 * tenant's OWNER or ADMIN), which tenants and backups qualify, the per-tenant quotas of MANUAL
 * backups, and idempotent queueing. The work itself runs in the tenants worker (backup.jobs.ts).
 */
import { randomUUID } from 'node:crypto';
import type { AuthClaims } from '../../../../lib/auth.js';
import type { TenantsConfig } from '../config.js';
import { tenantSchemaName } from '../../../../lib/db.js';
import {
  ErrorCode,
  badInput,
  conflict,
  forbidden,
  notFound,
  quotaExceeded,
  type AppError,
} from '../../../../lib/errors.js';
import type { Counter } from '../../../../lib/metrics.js';
import type { Logger } from '../../../../lib/logger.js';
import { BACKUP_TYPES, type BackupRow, type TenantRow } from '../db/schema.js';
import { backupJobId, isUuid, type TenantQueues } from '../jobs/queues.js';
import type { JobModel } from '../models.js';
import { SYSTEM, type TenantRepository } from '../tenant.repository.js';
import { requireUuid, validateOrganizationName } from '../tenant.service.js';
import type { BackupRequestLimit } from './backup.metrics.js';
import type { BackupRepository } from './backup.repository.js';

const MANAGERS = new Set(['OWNER', 'ADMIN']);

export class BackupService {
  constructor(
    private readonly config: Pick<TenantsConfig, 'MA130_HOST_KEY_SHA256' | 'BACKUP_MANUAL_MAX_PER_DAY'>,
    private readonly tenants: TenantRepository,
    private readonly backups: BackupRepository,
    private readonly queues: TenantQueues,
    private readonly logger: Logger,
    private readonly refusals?: Counter<'limit'>,
  ) {}

  private refuse(limit: BackupRequestLimit, err: AppError): never {
    this.refusals?.inc({ limit });
    throw err;
  }

  /**
   * The tenant when the caller manages it (platform admin, OWNER or ADMIN). A non-member gets
   * NOT_FOUND (existing or not), a member with a weaker role FORBIDDEN.
   */
  async managedTenant(caller: AuthClaims, tenantId: string): Promise<TenantRow> {
    const id = requireUuid(tenantId, 'tenantId');
    if (caller.platformAdmin) {
      const tenant = await this.tenants.findById(SYSTEM, id);
      if (!tenant) throw notFound('Tenant');
      return tenant;
    }
    const member = isUuid(caller.userId)
      ? await this.tenants.findForMember(caller.userId.toLowerCase(), id)
      : undefined;
    if (!member) throw notFound('Tenant');
    if (!MANAGERS.has(member.membership.role)) throw forbidden('Only an OWNER or ADMIN may manage backups');
    return member.tenant;
  }

  private requireConfigured(): void {
    if (!this.config.MA130_HOST_KEY_SHA256) {
      throw conflict('Backups are not configured on this platform (no MA130 host key pinned)');
    }
  }

  /**
   * backupTenant / the seed's REST call: queues a MANUAL backup, the only kind a client may ask for
   * (SCHEDULED and INITIAL are the platform's: BAD_USER_INPUT for everyone, admins included, since no
   * caller could make such a request valid). Quotas, per tenant, admitted atomically (admitManual):
   * - while a MANUAL backup of the tenant is queued or running, a request returns that job (a double
   *   click or a retrying client gets the backup it already asked for; nothing new is queued or counted);
   * - BACKUP_MANUAL_MAX_PER_DAY new MANUAL backups per UTC day, then QUOTA_EXCEEDED with retryAfter
   *   (seconds to the next UTC day).
   * MANUAL jobs are queued behind every scheduled and initial backup (queues.ts, priorities).
   */
  async requestBackup(
    caller: AuthClaims,
    tenantId: string,
    type: string = 'MANUAL',
  ): Promise<{ job: JobModel; backup: BackupRow }> {
    const backupType = type.toUpperCase();
    if (backupType !== 'MANUAL') {
      this.refuse(
        'backup_type',
        badInput(
          (BACKUP_TYPES as readonly string[]).includes(backupType)
            ? `backup type ${backupType} is the platform's own; clients may only request MANUAL backups`
            : 'backup type must be manual',
          { field: 'backupType' },
        ),
      );
    }
    const tenant = await this.managedTenant(caller, tenantId);
    this.requireConfigured();
    if (tenant.status !== 'ACTIVE' && tenant.status !== 'SUSPENDED') {
      throw conflict(`Tenant is ${tenant.status}; only provisioned tenants can be backed up`);
    }
    const id = randomUUID();
    const admitted = await this.backups.admitManual(
      { id, tenantId: tenant.id, jobId: backupJobId(id) },
      this.config.BACKUP_MANUAL_MAX_PER_DAY,
    );
    if (admitted.kind === 'daily-cap') {
      const limit = this.config.BACKUP_MANUAL_MAX_PER_DAY;
      this.refuse(
        'backups_per_day',
        quotaExceeded(
          `Manual backups per tenant per day: ${admitted.today} used of the limit of ${limit} (resets at 00:00 UTC)`,
          {
            quota: 'backups_per_day',
            limit,
            count: admitted.today,
            retryAfter: Math.max(1, Math.ceil(admitted.retryAfterSeconds)),
          },
        ),
      );
    }
    const backup = admitted.row;
    if (admitted.kind === 'pending') {
      // Re-adds the job only if BullMQ lost it (same idempotent id).
      const job = await this.queues.enqueueBackup({
        backupId: backup.id,
        tenantId: tenant.id,
        type: 'MANUAL',
      });
      return { job, backup };
    }
    try {
      const job = await this.queues.enqueueBackup({ backupId: id, tenantId: tenant.id, type: 'MANUAL' });
      this.logger.info({ tenantId: tenant.id, backupId: id, type: 'MANUAL' }, 'backup queued');
      return { job, backup };
    } catch (err) {
      // Not queued: the request did not happen (no row left QUEUED forever, no slot of the day used).
      await this.backups.deleteQueued(id).catch(() => undefined);
      throw err;
    }
  }

  /** A backup the caller manages, VERIFIED (the only kind that can be restored). */
  private async restorableBackup(
    caller: AuthClaims,
    backupId: string,
  ): Promise<{ backup: BackupRow; tenant: TenantRow }> {
    const id = requireUuid(backupId, 'backupId');
    const backup = await this.backups.findById(id);
    if (!backup) throw notFound('Backup');
    const tenant = await this.managedTenant(caller, backup.tenantId).catch((err: unknown) => {
      // Someone else's backup: as if it did not exist.
      if ((err as { code?: string }).code === ErrorCode.NotFound) throw notFound('Backup');
      throw err;
    });
    this.requireConfigured();
    if (backup.status !== 'VERIFIED')
      throw conflict(`Backup is ${backup.status}; only a VERIFIED backup can be restored`);
    return { backup, tenant };
  }

  /** restoreTenant: queues the restore of a verified backup over its tenant (one at a time per tenant). */
  async requestRestore(caller: AuthClaims, backupId: string): Promise<JobModel> {
    const { backup, tenant } = await this.restorableBackup(caller, backupId);
    if (tenant.status !== 'ACTIVE' && tenant.status !== 'SUSPENDED') {
      throw conflict(`Tenant is ${tenant.status}; it cannot be restored now`);
    }
    if (await this.queues.pendingRestore(tenant.id)) {
      throw conflict('A restore of this tenant is already queued or running');
    }
    const job = await this.queues.enqueueRestore(randomUUID(), { backupId: backup.id, tenantId: tenant.id });
    this.logger.info({ tenantId: tenant.id, backupId: backup.id, jobId: job.id }, 'restore queued');
    return job;
  }

  /**
   * cloneTenant: creates a new tenant owned by the caller (PROVISIONING) and queues the restore of the
   * backup into it; the worker then provisions and activates it.
   */
  async requestClone(
    caller: AuthClaims,
    backupId: string,
    organizationName: string,
  ): Promise<{ tenant: TenantRow; job: JobModel }> {
    const name = validateOrganizationName(organizationName);
    const { backup, tenant: source } = await this.restorableBackup(caller, backupId);
    if (!isUuid(caller.userId)) throw forbidden('This account cannot own organizations');
    const id = randomUUID();
    const tenant = await this.tenants.createWithOwner(
      { id, organizationName: name, template: source.template, schemaName: tenantSchemaName(id) },
      caller.userId.toLowerCase(),
    );
    try {
      const job = await this.queues.enqueueRestore(randomUUID(), {
        backupId: backup.id,
        tenantId: source.id,
        targetTenantId: tenant.id,
      });
      this.logger.info(
        { sourceTenantId: source.id, tenantId: tenant.id, backupId: backup.id },
        'clone queued',
      );
      return { tenant, job };
    } catch (err) {
      await this.tenants.markFailed(tenant.id, 'could not queue the clone').catch(() => undefined);
      throw err;
    }
  }
}
