/**
 * SQL on the `tenancy` tables. Every method runs in a row-level-security scope (lib/db withPlatform,
 * or readPlatform for a one-statement read):
 * the policies decide what a scope sees, and the queries below say what the caller asked for. Methods
 * for users add the membership condition explicitly as well, so a policy mistake alone leaks nothing.
 */
import { and, asc, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import type pg from 'pg';
import {
  PlatformRead,
  readPlatform,
  wholeRowFields,
  withPlatform,
  type Db,
  type PlatformScope,
} from '../../../lib/db.js';
import { quotaExceeded } from '../../../lib/errors.js';
import {
  backups,
  memberships,
  tenants,
  type BackupRow,
  type MembershipRow,
  type TenantRow,
  type TenantStatus,
} from './db/schema.js';

export const SYSTEM: PlatformScope = { kind: 'system' };

/** A tenant scope: the tenant's own rows (used to create and update one tenant). */
export const tenantScope = (tenantId: string, userId?: string): PlatformScope => ({
  kind: 'tenant',
  tenantId,
  userId,
});

/** A user scope: the user's memberships and the tenants they belong to. */
export const userScope = (userId: string): PlatformScope => ({ kind: 'user', userId });

export interface NewTenant {
  id: string;
  organizationName: string;
  template: string;
  schemaName: string;
}

/** Limit overrides to write: a field present is set (null: back to the default), an absent one kept. */
export type TenantLimitsPatch = Partial<
  Pick<TenantRow, 'requestsPerMinute' | 'requestsPerMinutePerUser' | 'costPerMinute'>
>;

/** Options of {@link TenantRepository}. */
export interface TenantRepositoryOptions {
  /** Organizations one user may own; unset: no cap (workers and tools that never create tenants). */
  maxOwnedPerUser?: number | undefined;
  /** Called when {@link TenantRepository.createWithOwner} refuses over the cap (a metric). */
  onOwnedCapReached?: () => void;
}

/** `tenancy.memberships_of` (migration 0005) for the placeholder `userId`, and `tenantId` when given. */
const membershipsOfCall = (inTenant = false) =>
  inTenant
    ? sql`"tenancy"."memberships_of"(${sql.placeholder('userId')}, ${sql.placeholder('tenantId')})`
    : sql`"tenancy"."memberships_of"(${sql.placeholder('userId')})`;

/** The whole-row columns of `tenancy.memberships_of`, as drizzle reads them. */
const MEMBERSHIPS_OF_FIELDS = {
  tenant: wholeRowFields(tenants, 'tenant'),
  membership: wholeRowFields(memberships, 'membership'),
};

/**
 * The statement of {@link TenantRepository.membershipsOf}, its user a placeholder (`userId`): a user's
 * memberships with their tenants, most recently joined first. It calls the PL/pgSQL function
 * `tenancy.memberships_of` (migration 0005), whose query each database connection plans once, under
 * the caller's row-level-security policies, and returns whole rows. bench/platform-read.ts runs it
 * through each platform helper.
 */
export function membershipsStatement(db: Db) {
  return db
    .select(MEMBERSHIPS_OF_FIELDS)
    .from(membershipsOfCall())
    .orderBy(sql`("membership")."created_at" DESC, ("tenant")."id" ASC`);
}

/** {@link membershipsStatement}, built once per pooled connection (the hottest read here). */
const MEMBERSHIPS_OF = new PlatformRead((db) => membershipsStatement(db).prepare('tenancy_memberships_of'));

/** The tenants a user belongs to, oldest first: `tenancy.memberships_of`'s tenants. */
const TENANTS_OF = new PlatformRead((db) =>
  db
    .select({ tenant: MEMBERSHIPS_OF_FIELDS.tenant })
    .from(membershipsOfCall())
    .orderBy(sql`("tenant")."created_at" ASC, ("tenant")."id" ASC`)
    .prepare('tenancy_tenants_of'),
);

/** A user's membership in one tenant, with the tenant: `tenancy.memberships_of` for that tenant. */
const MEMBERSHIP_IN = new PlatformRead((db) =>
  db.select(MEMBERSHIPS_OF_FIELDS).from(membershipsOfCall(true)).limit(1).prepare('tenancy_membership_in'),
);

export class TenantRepository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly options: TenantRepositoryOptions = {},
  ) {}

  private run<T>(scope: PlatformScope, fn: (tx: Db) => Promise<T>): Promise<T> {
    return withPlatform(this.pool, scope, (tx) => fn(tx));
  }

  /** A one-statement read in one round trip (lib/db `readPlatform`). */
  private read<T>(scope: PlatformScope, fn: (db: Db) => Promise<T>): Promise<T> {
    return readPlatform(this.pool, scope, fn);
  }

  /** The tenant when the scope may see it. */
  findById(scope: PlatformScope, id: string): Promise<TenantRow | undefined> {
    return this.read(
      scope,
      async (tx) => (await tx.select().from(tenants).where(eq(tenants.id, id)).limit(1))[0],
    );
  }

  /** Every tenant the scope sees, oldest first (system scope: all of them). */
  listAll(scope: PlatformScope): Promise<TenantRow[]> {
    return this.read(scope, (tx) =>
      tx.select().from(tenants).orderBy(asc(tenants.createdAt), asc(tenants.id)),
    );
  }

  /** The tenants `userId` is a member of, oldest first. */
  async listForUser(userId: string): Promise<TenantRow[]> {
    const rows = await TENANTS_OF.run(this.pool, userScope(userId), { userId });
    return rows.map((r) => r.tenant);
  }

  /** The tenant when `userId` is a member of it, with the member's role. */
  async findForMember(
    userId: string,
    tenantId: string,
  ): Promise<{ tenant: TenantRow; membership: MembershipRow } | undefined> {
    const rows = await MEMBERSHIP_IN.run(this.pool, userScope(userId), { userId, tenantId });
    return rows[0];
  }

  /** A user's memberships with their tenants, most recently joined first. */
  membershipsOf(userId: string): Promise<{ tenant: TenantRow; membership: MembershipRow }[]> {
    return MEMBERSHIPS_OF.run(this.pool, userScope(userId), { userId });
  }

  /**
   * Creates a tenant (PROVISIONING) and its OWNER membership in one transaction, in the new tenant's
   * own scope: either both rows exist afterwards or neither does.
   * @throws AppError QUOTA_EXCEEDED when the owner already owns `maxOwnedPerUser` tenants (nothing written)
   */
  createWithOwner(tenant: NewTenant, ownerUserId: string): Promise<TenantRow> {
    return this.run(tenantScope(tenant.id, ownerUserId), async (tx) => {
      const max = this.options.maxOwnedPerUser;
      if (max !== undefined) {
        // Checked here, not in the service, so every path that creates a tenant (provision, register,
        // clone) is capped, and under a per-owner transaction lock, so concurrent creations cannot
        // all pass one count.
        await tx.execute(
          sql`SELECT pg_advisory_xact_lock(hashtextextended(${`tenancy.owner:${ownerUserId}`}, 0))`,
        );
        const [owned] = await tx
          .select({ n: sql<number>`count(*)::int` })
          .from(memberships)
          .where(and(eq(memberships.userId, ownerUserId), eq(memberships.role, 'OWNER')));
        const n = owned?.n ?? 0;
        if (n >= max) {
          this.options.onOwnedCapReached?.();
          throw quotaExceeded(`You own ${n} organizations; the limit is ${max} per user`, {
            limit: max,
            owned: n,
          });
        }
      }
      const [row] = await tx
        .insert(tenants)
        .values({ ...tenant, status: 'PROVISIONING' })
        .returning();
      await tx.insert(memberships).values({ tenantId: tenant.id, userId: ownerUserId, role: 'OWNER' });
      if (!row) throw new Error('tenant insert returned no row');
      return row;
    });
  }

  /**
   * Moves a tenant back to PROVISIONING (a retry), only from FAILED.
   * @returns false when the tenant was not FAILED any more (someone else retried first)
   */
  markProvisioning(id: string): Promise<boolean> {
    return this.run(tenantScope(id), async (tx) => {
      const rows = await tx
        .update(tenants)
        .set({ status: 'PROVISIONING', lastError: null, updatedAt: sql`now()` })
        .where(and(eq(tenants.id, id), eq(tenants.status, 'FAILED')))
        .returning({ id: tenants.id });
      return rows.length > 0;
    });
  }

  /**
   * Marks a tenant FAILED with the error when its status is one of `from` (by default PROVISIONING or
   * FAILED: a late failure never demotes an ACTIVE or SUSPENDED tenant).
   */
  markFailed(id: string, error: string, from: TenantStatus[] = ['PROVISIONING', 'FAILED']): Promise<void> {
    return this.run(SYSTEM, async (tx) => {
      await tx
        .update(tenants)
        .set({ status: 'FAILED', lastError: error.slice(0, 2000), updatedAt: sql`now()` })
        .where(and(eq(tenants.id, id), inArray(tenants.status, from)));
    });
  }

  /**
   * Marks a tenant ACTIVE once provisioned. An ACTIVE tenant is left untouched (so a second run
   * changes nothing), and a SUSPENDED one stays suspended.
   */
  markActive(id: string): Promise<void> {
    return this.run(SYSTEM, async (tx) => {
      await tx
        .update(tenants)
        .set({
          status: 'ACTIVE',
          lastError: null,
          provisionedAt: sql`coalesce(${tenants.provisionedAt}, now())`,
          updatedAt: sql`now()`,
        })
        .where(and(eq(tenants.id, id), inArray(tenants.status, ['PROVISIONING', 'FAILED'])));
    });
  }

  /**
   * Writes a tenant's limit overrides in one UPDATE (system scope: platform administrators).
   * @returns the updated row, or undefined when there is no such tenant
   */
  setLimits(id: string, patch: TenantLimitsPatch): Promise<TenantRow | undefined> {
    return this.run(SYSTEM, async (tx) => {
      const rows = await tx
        .update(tenants)
        .set({ ...patch, updatedAt: sql`now()` })
        .where(eq(tenants.id, id))
        .returning();
      return rows[0];
    });
  }

  /** Backups of a tenant, most recent first (the scope decides whether any are visible). */
  listBackups(scope: PlatformScope, tenantId: string, limit: number): Promise<BackupRow[]> {
    return this.read(scope, (tx) =>
      tx
        .select()
        .from(backups)
        .where(eq(backups.tenantId, tenantId))
        .orderBy(desc(backups.startedAt), desc(backups.id))
        .limit(limit),
    );
  }

  /** Number of tenants per status (system scope). */
  countByStatus(): Promise<Map<TenantStatus, number>> {
    return this.read(SYSTEM, async (tx) => {
      const rows = await tx
        .select({ status: tenants.status, n: sql<number>`count(*)::int` })
        .from(tenants)
        .groupBy(tenants.status);
      return new Map(rows.map((r) => [r.status, r.n]));
    });
  }

  /** One batch of ACTIVE tenants with ids after `afterId` (keyset pagination, system scope). */
  activeBatch(afterId: string | undefined, limit: number): Promise<TenantRow[]> {
    return this.read(SYSTEM, (tx) =>
      tx
        .select()
        .from(tenants)
        .where(
          afterId ? and(eq(tenants.status, 'ACTIVE'), gt(tenants.id, afterId)) : eq(tenants.status, 'ACTIVE'),
        )
        .orderBy(asc(tenants.id))
        .limit(limit),
    );
  }
}
