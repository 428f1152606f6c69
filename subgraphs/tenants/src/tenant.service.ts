/**
 * Rules of the tenants subgraph: who sees which tenant, who may create or re-provision one, and how a
 * new tenant gets from a request to a queued provisioning job.
 */
import { randomUUID } from 'node:crypto';
import type { AuthClaims, Role } from '../../../lib/auth.js';
import type { Config } from '../../../lib/config.js';
import { tenantSchemaName } from '../../../lib/db.js';
import { badInput, conflict, forbidden, notFound, unauthenticated } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { ipThrottleKey, type RequestThrottle } from '../../../lib/request-throttle.js';
import type { BackupRow, TenantRow, TenantStatus } from './db/schema.js';
import { isUuid, provisionJobId, toJobModel, type TenantQueues } from './jobs/queues.js';
import type { JobModel, MembershipModel, TenantModel } from './models.js';
import { SYSTEM, tenantScope, userScope, type TenantRepository } from './tenant.repository.js';
import type { TemplateRegistry } from './template.registry.js';

/** What a caller asks for when provisioning. */
export interface ProvisionInput {
  tenantId?: string | null | undefined;
  organizationName: string;
  template?: string | null | undefined;
}

export interface ProvisionOutcome {
  tenant: TenantRow;
  job: JobModel;
}

const ORGANIZATION_NAME_MAX = 200;
const BACKUPS_MAX = 100;
const MANAGER_ROLES: readonly Role[] = ['OWNER', 'ADMIN'];

/** A trimmed organization name of 1..200 printable characters, or BAD_USER_INPUT. */
export function validateOrganizationName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0)
    throw badInput('organizationName must not be empty', { field: 'organizationName' });
  if (trimmed.length > ORGANIZATION_NAME_MAX) {
    throw badInput(`organizationName must be at most ${ORGANIZATION_NAME_MAX} characters`, {
      field: 'organizationName',
    });
  }
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw badInput('organizationName contains control characters', { field: 'organizationName' });
  }
  return trimmed;
}

/** A UUID in canonical lower-case form, or BAD_USER_INPUT naming `field`. */
export function requireUuid(value: string, field: string): string {
  if (!isUuid(value)) throw badInput(`${field} must be a UUID`, { field });
  return value.toLowerCase();
}

function isUniqueViolation(err: unknown, constraint: string): boolean {
  // drizzle wraps driver errors; the pg error (code 23505) is the cause.
  for (let e: unknown = err, i = 0; e instanceof Error && i < 3; e = e.cause, i++) {
    const pgErr = e as { code?: unknown; constraint?: unknown };
    if (pgErr.code === '23505' && pgErr.constraint === constraint) return true;
  }
  return false;
}

export class TenantService {
  constructor(
    private readonly config: Pick<Config, 'DEFAULT_TENANT_TEMPLATE'>,
    private readonly repo: TenantRepository,
    private readonly templates: TemplateRegistry,
    private readonly queues: TenantQueues,
    private readonly logger: Logger,
    /** Tenant creations per client IP; null: not throttled (tools, tests of other rules). */
    private readonly createThrottle: RequestThrottle | null = null,
  ) {}

  /** A tenant the caller belongs to (platform admins: any). NOT_FOUND otherwise, existing or not. */
  async getTenant(caller: AuthClaims, id: string): Promise<TenantRow> {
    const tenantId = requireUuid(id, 'id');
    const tenant = caller.platformAdmin
      ? await this.repo.findById(SYSTEM, tenantId)
      : isUuid(caller.userId)
        ? (await this.repo.findForMember(caller.userId, tenantId))?.tenant
        : undefined;
    if (!tenant) throw notFound('Tenant');
    return tenant;
  }

  /** Platform admins: every tenant; others: the tenants they belong to. */
  async listTenants(caller: AuthClaims): Promise<TenantRow[]> {
    if (caller.platformAdmin) return this.repo.listAll(SYSTEM);
    if (!isUuid(caller.userId)) return [];
    return this.repo.listForUser(caller.userId);
  }

  /**
   * Resolves a Tenant entity reference (another subgraph returned `Tenant { id }`, e.g. auth's
   * register payload, which is answered before the caller holds a token). Members and platform admins
   * get the tenant; anyone else a limited view that answers `id` and `status` only. See the README.
   */
  async resolveReference(caller: AuthClaims | null, id: string): Promise<TenantModel> {
    if (!isUuid(id)) throw notFound('Tenant');
    if (caller) {
      const full = await this.getTenant(caller, id).catch(() => undefined);
      if (full) return full;
    }
    const tenant = await this.repo.findById(SYSTEM, id.toLowerCase());
    if (!tenant) throw notFound('Tenant');
    return { ...tenant, limited: true };
  }

  /** Memberships of `userId`: the user themself or a platform admin only. */
  async memberships(caller: AuthClaims | null, userId: string): Promise<MembershipModel[]> {
    if (!caller) throw unauthenticated();
    if (caller.userId !== userId && !caller.platformAdmin)
      throw forbidden('Only the user themself may list their memberships');
    if (!isUuid(userId)) return [];
    const rows = await this.repo.membershipsOf(userId.toLowerCase());
    return rows.map(({ tenant, membership }) => ({
      tenantId: membership.tenantId,
      userId: membership.userId,
      role: membership.role,
      createdAt: membership.createdAt,
      tenant,
    }));
  }

  /** Internal: a user's memberships as grants, most recently joined first. */
  async membershipGrants(userId: string): Promise<{ tenantId: string; role: Role }[]> {
    const id = requireUuid(userId, 'userId');
    const rows = await this.repo.membershipsOf(id);
    return rows.map(({ membership }) => ({ tenantId: membership.tenantId, role: membership.role }));
  }

  /** Tenants per status (the tenants_by_status gauge). */
  countByStatus(): Promise<Map<TenantStatus, number>> {
    return this.repo.countByStatus();
  }

  /** Backups of a tenant the caller may see, most recent first. */
  async backups(
    caller: AuthClaims,
    tenant: TenantRow,
    first: number | null | undefined,
  ): Promise<BackupRow[]> {
    const limit = Math.max(1, Math.min(BACKUPS_MAX, first ?? 20));
    const scope = caller.platformAdmin ? SYSTEM : userScope(caller.userId);
    if (!caller.platformAdmin && !isUuid(caller.userId)) return [];
    return this.repo.listBackups(scope, tenant.id, limit);
  }

  /**
   * provisionTenant / the seed's REST call. Without a tenant id: a new organization owned by the
   * caller. With the id of an existing tenant: re-queues a FAILED provisioning or returns its job
   * (OWNER, ADMIN or platform admin only). With an unused id: creates the tenant with that id, so a
   * client retrying the same request never creates two organizations.
   * @param ip the client's address: creating a tenant counts against the per-IP throttle (re-provisioning
   *   an existing one does not)
   * @throws RATE_LIMITED over the per-IP creation throttle, QUOTA_EXCEEDED over the tenants-owned cap
   */
  async provision(
    caller: AuthClaims,
    input: ProvisionInput,
    ip: string | undefined,
  ): Promise<ProvisionOutcome> {
    const organizationName = validateOrganizationName(input.organizationName);
    const template = await this.requireTemplate(input.template);
    if (!isUuid(caller.userId)) throw forbidden('This account cannot own organizations');
    let requestedId: string | undefined;
    if (input.tenantId !== undefined && input.tenantId !== null) {
      requestedId = requireUuid(input.tenantId, 'tenantId');
      const existing = await this.repo.findById(SYSTEM, requestedId);
      if (existing) return this.reprovision(caller, existing);
    }
    await this.createThrottle?.consume(ipThrottleKey(ip));
    return requestedId === undefined
      ? this.create(caller.userId.toLowerCase(), organizationName, template)
      : this.create(caller.userId.toLowerCase(), organizationName, template, requestedId, caller);
  }

  /** Internal (auth's register): a new organization owned by `ownerUserId`. */
  async createOwned(
    ownerUserId: string,
    organizationName: string,
    template?: string | null,
  ): Promise<ProvisionOutcome> {
    const owner = requireUuid(ownerUserId, 'ownerUserId');
    return this.create(
      owner,
      validateOrganizationName(organizationName),
      await this.requireTemplate(template),
    );
  }

  private async requireTemplate(name: string | null | undefined): Promise<string> {
    const template = name ?? this.config.DEFAULT_TENANT_TEMPLATE;
    if (!(await this.templates.exists(template))) {
      throw badInput(`Unknown template "${template.slice(0, 64)}"`, { field: 'template' });
    }
    return template;
  }

  private async create(
    ownerUserId: string,
    organizationName: string,
    template: string,
    requestedId?: string,
    caller?: AuthClaims,
  ): Promise<ProvisionOutcome> {
    let tenant: TenantRow | undefined;
    // A generated id whose 16-hex-digit schema name collides (one in 2^64) just gets another id.
    for (let attempt = 0; !tenant; attempt++) {
      const id = requestedId ?? randomUUID();
      try {
        tenant = await this.repo.createWithOwner(
          { id, organizationName, template, schemaName: tenantSchemaName(id) },
          ownerUserId,
        );
      } catch (err) {
        if (requestedId && caller && isUniqueViolation(err, 'tenants_pkey')) {
          // Created concurrently by the same request sent twice: answer like the second request.
          const existing = await this.repo.findById(SYSTEM, requestedId);
          if (existing) return this.reprovision(caller, existing);
        }
        if (isUniqueViolation(err, 'tenants_schema_name_unique')) {
          if (requestedId) throw conflict('This tenant id cannot be used; omit it to get a new one');
          if (attempt < 3) continue;
        }
        throw err;
      }
    }
    const job = await this.enqueueOrFail(tenant, {});
    this.logger.info({ tenantId: tenant.id, template }, 'tenant created; provisioning queued');
    return { tenant, job };
  }

  /** Queues provisioning; when that fails the tenant is marked FAILED with the reason, never left waiting. */
  private async enqueueOrFail(tenant: TenantRow, opts: { rerunCompleted?: boolean }): Promise<JobModel> {
    try {
      return await this.queues.enqueueProvisioning(tenant.id, opts);
    } catch (err) {
      const reason = `could not queue provisioning: ${err instanceof Error ? err.message : String(err)}`;
      this.logger.error({ err, tenantId: tenant.id }, 'could not queue tenant provisioning');
      await this.repo.markFailed(tenant.id, reason).catch((e: unknown) => {
        this.logger.error({ err: e, tenantId: tenant.id }, 'could not mark tenant FAILED');
      });
      throw err;
    }
  }

  private async reprovision(caller: AuthClaims, tenant: TenantRow): Promise<ProvisionOutcome> {
    if (!caller.platformAdmin) {
      const member = await this.repo.findForMember(caller.userId.toLowerCase(), tenant.id);
      if (!member) throw notFound('Tenant');
      if (!MANAGER_ROLES.includes(member.membership.role)) {
        throw forbidden('Only an OWNER or ADMIN may provision this tenant');
      }
    }
    switch (tenant.status) {
      case 'SUSPENDED':
        throw conflict('Tenant is suspended');
      case 'FAILED': {
        await this.repo.markProvisioning(tenant.id);
        const job = await this.enqueueOrFail(tenant, { rerunCompleted: true });
        const fresh = await this.repo.findById(tenantScope(tenant.id), tenant.id);
        return { tenant: fresh ?? tenant, job };
      }
      case 'PROVISIONING':
        // Queued, running, or lost (Redis wiped, or failed while stalled): idempotent either way.
        return { tenant, job: await this.enqueueOrFail(tenant, {}) };
      case 'ACTIVE': {
        const job = await this.queues.provisioningJob(tenant.id);
        return { tenant, job: job ? await toJobModel(job) : completedProvisioning(tenant.id) };
      }
    }
  }
}

/** The record of a provisioning that finished long enough ago for BullMQ to have dropped its job. */
export function completedProvisioning(tenantId: string): JobModel {
  return {
    id: provisionJobId(tenantId),
    kind: 'provision',
    state: 'completed',
    progress: 100,
    error: null,
    result: null,
  };
}
