/**
 * Platform tables of the tenants subgraph, in the `tenancy` schema. Row-level security on every one
 * of them is added by the custom migration `0001_row_level_security.sql` (drizzle-kit does not model
 * policies that read session settings).
 */
import { sql } from 'drizzle-orm';
import { bigint, check, index, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Lifecycle of a tenant. */
export const TENANT_STATUSES = ['PROVISIONING', 'ACTIVE', 'FAILED', 'SUSPENDED'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/** Membership roles, strongest first (same order as lib/auth ROLES). */
export const MEMBERSHIP_ROLES = ['OWNER', 'ADMIN', 'TRADER', 'VIEWER'] as const;

/** Kinds of backups (the backup worker writes these rows). */
export const BACKUP_TYPES = ['MANUAL', 'SCHEDULED', 'INITIAL'] as const;

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
  },
  (t) => [
    check('tenants_status_check', sql.raw(`"status" IN (${inList(TENANT_STATUSES)})`)),
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
    // Free text on purpose: the backup worker owns the states (running, uploaded, verified, failed...).
    status: text('status').notNull(),
    path: text('path'),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    sha256: text('sha256'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    error: text('error'),
  },
  (t) => [
    check('backups_type_check', sql.raw(`"type" IN (${inList(BACKUP_TYPES)})`)),
    index('backups_tenant_started_idx').on(t.tenantId, t.startedAt.desc()),
  ],
);

export type TenantRow = typeof tenants.$inferSelect;
export type MembershipRow = typeof memberships.$inferSelect;
export type BackupRow = typeof backups.$inferSelect;
