/**
 * Rules of backups, restores and clones on the API side: who may ask (platform admins, or the
 * tenant's OWNER or ADMIN), which tenants and backups qualify, and idempotent queueing. The work
 * itself runs in the tenants worker (backup.jobs.ts).
 */
import { randomUUID } from 'node:crypto';
import type { AuthClaims } from '../../../../lib/auth.js';
import type { Config } from '../../../../lib/config.js';
import { tenantSchemaName } from '../../../../lib/db.js';
import { badInput, conflict, forbidden, notFound } from '../../../../lib/errors.js';
import type { Logger } from '../../../../lib/logger.js';
import { BACKUP_TYPES, type BackupRow, type BackupType, type TenantRow } from '../db/schema.js';
import { backupJobId, isUuid, type TenantQueues } from '../jobs/queues.js';
import type { JobModel } from '../models.js';
import { SYSTEM, type TenantRepository } from '../tenant.repository.js';
import { requireUuid, validateOrganizationName } from '../tenant.service.js';
import type { BackupRepository } from './backup.repository.js';

const MANAGERS = new Set(['OWNER', 'ADMIN']);

export class BackupService {
  constructor(
    private readonly config: Pick<Config, 'MA130_HOST_KEY_SHA256'>,
    private readonly tenants: TenantRepository,
    private readonly backups: BackupRepository,
    private readonly queues: TenantQueues,
    private readonly logger: Logger,
  ) {}

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
   * backupTenant / the seed's REST call: queues a backup. A MANUAL request while another MANUAL backup
   * of the tenant is queued or running returns that one (a double click makes one backup).
   */
  async requestBackup(
    caller: AuthClaims,
    tenantId: string,
    type: string = 'MANUAL',
  ): Promise<{ job: JobModel; backup: BackupRow }> {
    const backupType = type.toUpperCase() as BackupType;
    if (!BACKUP_TYPES.includes(backupType)) {
      throw badInput(`backup type must be one of ${BACKUP_TYPES.join(', ').toLowerCase()}`, {
        field: 'backupType',
      });
    }
    const tenant = await this.managedTenant(caller, tenantId);
    this.requireConfigured();
    if (tenant.status !== 'ACTIVE' && tenant.status !== 'SUSPENDED') {
      throw conflict(`Tenant is ${tenant.status}; only provisioned tenants can be backed up`);
    }
    if (backupType === 'MANUAL') {
      const pending = await this.backups.pendingManual(tenant.id);
      if (pending) {
        const job = await this.queues.enqueueBackup({
          backupId: pending.id,
          tenantId: tenant.id,
          type: pending.type,
        });
        return { job, backup: pending };
      }
    }
    const id = randomUUID();
    const backup = await this.backups.createQueued({
      id,
      tenantId: tenant.id,
      type: backupType,
      jobId: backupJobId(id),
    });
    try {
      const job = await this.queues.enqueueBackup({ backupId: id, tenantId: tenant.id, type: backupType });
      this.logger.info({ tenantId: tenant.id, backupId: id, type: backupType }, 'backup queued');
      return { job, backup };
    } catch (err) {
      await this.backups.markFailed(id, 'could not queue the backup job').catch(() => undefined);
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
      if ((err as { code?: string }).code === 'NOT_FOUND') throw notFound('Backup');
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
