/**
 * Platform tables of the tenants subgraph, in the `tenancy` schema. Row-level security on every one
 * of them is added by the custom migration `0001_row_level_security.sql` (drizzle-kit does not model
 * policies that read session settings).
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

/** Lifecycle of a tenant. */
export const TENANT_STATUSES = ['PROVISIONING', 'ACTIVE', 'FAILED', 'SUSPENDED'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/** Membership roles, strongest first (same order as lib/auth ROLES). */
export const MEMBERSHIP_ROLES = ['OWNER', 'ADMIN', 'TRADER', 'VIEWER'] as const;

/** Kinds of backups (the backup worker writes these rows). */
export const BACKUP_TYPES = ['MANUAL', 'SCHEDULED', 'INITIAL'] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];

/**
 * Lifecycle of a backup row: QUEUED (job queued, or waiting for a retry) -> RUNNING -> VERIFIED (the
 * file is under its final name and its read-back sha256 matched) or FAILED (for good); a VERIFIED
 * backup removed by retention becomes PRUNED. Only VERIFIED rows point at a usable file.
 */
export const BACKUP_STATUSES = ['QUEUED', 'RUNNING', 'VERIFIED', 'FAILED', 'PRUNED'] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];

export const tenancy = pgSchema('tenancy');

const inList = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ');

export const tenants = tenancy.table(
  'tenants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    organizationName: text('organization_name').notNull(),
    template: text('template').notNull(),
    status: text('status', { enum: TENANT_STATUSES }).notNull().default('PROVISIONING'),
    schemaName: text('schema_name').notNull().unique('tenants_schema_name_unique'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    provisionedAt: timestamp('provisioned_at', { withTimezone: true }),
    lastError: text('last_error'),
    /**
     * The gateway's request limits of this tenant, per minute (`setTenantLimits`, platform admins
     * only). NULL: the platform default (lib/config RATE_LIMIT_* / COST_BUDGET_*, scaled to a minute).
     */
    requestsPerMinute: integer('requests_per_minute'),
    requestsPerMinutePerUser: integer('requests_per_minute_per_user'),
    costPerMinute: integer('cost_per_minute'),
  },
  (t) => [
    check('tenants_status_check', sql.raw(`"status" IN (${inList(TENANT_STATUSES)})`)),
    check('tenants_requests_per_minute_check', sql.raw('"requests_per_minute" > 0')),
    check('tenants_requests_per_minute_per_user_check', sql.raw('"requests_per_minute_per_user" > 0')),
    check('tenants_cost_per_minute_check', sql.raw('"cost_per_minute" > 0')),
    index('tenants_status_idx').on(t.status),
  ],
);

export const memberships = tenancy.table(
  'memberships',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    // A user of the auth subgraph; no foreign key across subgraphs (each owns its tables).
    userId: uuid('user_id').notNull(),
    role: text('role', { enum: MEMBERSHIP_ROLES }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'memberships_pkey', columns: [t.tenantId, t.userId] }),
    check('memberships_role_check', sql.raw(`"role" IN (${inList(MEMBERSHIP_ROLES)})`)),
    index('memberships_user_idx').on(t.userId, t.createdAt),
  ],
);

export const backups = tenancy.table(
  'backups',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    type: text('type', { enum: BACKUP_TYPES }).notNull(),
    status: text('status', { enum: BACKUP_STATUSES }).notNull().default('QUEUED'),
    /** Remote path of the file on the MA130 (set when the run starts; final once VERIFIED). */
    path: text('path'),
    /** Size and sha256 (hex) of the encrypted file as stored. */
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    sha256: text('sha256'),
    /** Queued at first; the start of the first run once it runs (it names the file, retries keep it). */
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    error: text('error'),
    /** 0..100, written by the job as it advances. */
    progress: integer('progress').notNull().default(0),
    /** BullMQ job id (`backup-<id>`). */
    jobId: text('job_id'),
    /** Runs started (retries included). */
    attempts: integer('attempts').notNull().default(0),
    /** Encryption key id, gzip level and SQL bytes of the file (from its manifest). */
    keyId: text('key_id'),
    gzipLevel: integer('gzip_level'),
    dumpBytes: bigint('dump_bytes', { mode: 'number' }),
    /** Rows per table at backup time; a restore checks them before it commits. */
    rowCounts: jsonb('row_counts').$type<Record<string, number>>(),
    verifiedAt: timestamp('verified_at', { withTimezone: true }),
    prunedAt: timestamp('pruned_at', { withTimezone: true }),
  },
  (t) => [
    check('backups_type_check', sql.raw(`"type" IN (${inList(BACKUP_TYPES)})`)),
    check('backups_status_check', sql.raw(`"status" IN (${inList(BACKUP_STATUSES)})`)),
    check('backups_progress_check', sql.raw('"progress" BETWEEN 0 AND 100')),
    index('backups_tenant_started_idx').on(t.tenantId, t.startedAt.desc()),
    index('backups_status_idx').on(t.status, t.tenantId),
  ],
);

export type TenantRow = typeof tenants.$inferSelect;
export type MembershipRow = typeof memberships.$inferSelect;
export type BackupRow = typeof backups.$inferSelect;

/**
 * The warm pool of tenant schemas (subgraphs/tenants/src/jobs/schema-pool.ts): a role and schema
 * built ahead of sign-up from a template, under a `pool_<hex>` name, renamed to the new tenant's on
 * provisioning. A row is written (ready = false) before its role and schema exist, so an entry whose
 * build died is found and dropped by the next refill; only ready entries are claimed. Read and
 * written by the owner role only: row-level security is enabled with no policy (custom part of
 * `0004_schema_pool.sql`), so the app role sees no row.
 */
export const schemaPool = tenancy.table(
  'schema_pool',
  {
    name: text('name').primaryKey(),
    template: text('template').notNull(),
    ready: boolean('ready').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('schema_pool_name_check', sql.raw(`"name" ~ '^pool_[0-9a-f]{16}$'`)),
    index('schema_pool_ready_idx').on(t.template, t.ready, t.createdAt),
  ],
);
