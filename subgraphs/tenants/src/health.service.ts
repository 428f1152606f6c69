/**
 * Tenant health, checked live: the tenant's role and schema exist, its template migrations are all
 * applied, how much space the schema takes (against its quota), rows per table, connections working on
 * it, and its backups (the newest one, the newest verified one and its age). OK / DEGRADED / DOWN with
 * readable reasons.
 */
import type pg from 'pg';
import { ident, withTenant } from '../../../lib/db.js';
import type { BackupRepository } from './backup/backup.repository.js';
import type { BackupStatus, TenantRow } from './db/schema.js';
import { appliedMigrations } from './jobs/tenant-ddl.js';
import {
  expectedMigrations,
  UnknownTemplateError,
  type TemplateRegistry,
  type TenantTemplate,
} from './template.registry.js';

export type HealthStatus = 'OK' | 'DEGRADED' | 'DOWN';

export interface TenantHealthView {
  status: HealthStatus;
  schemaPresent: boolean;
  migrationsApplied: number;
  migrationsExpected: number;
  schemaSizeBytes: number | null;
  quotaBytes: number;
  /** Rows per table (exact up to {@link ROW_COUNT_CAP}, the planner's estimate beyond). */
  rowCounts: Record<string, number>;
  activeConnections: number;
  lastBackupStatus: BackupStatus | null;
  lastBackupAt: Date | null;
  lastVerifiedBackupAt: Date | null;
  lastVerifiedBackupAgeSeconds: number | null;
  reasons: string[];
  checkedAt: Date;
}

/** Tables are counted exactly up to this many rows; bigger ones report the planner's estimate. */
export const ROW_COUNT_CAP = 100_000;

/** What the health check knows about backups and quotas (absent: those checks are skipped). */
export interface HealthBackupOptions {
  backups: BackupRepository;
  /** False when no MA130 is configured: backup freshness is not judged. */
  configured: boolean;
  staleAfterHours: number;
  quotaBytes: number;
}

export class HealthService {
  constructor(
    /** App-role pool: catalogs are readable by everyone; record tables through withTenant. */
    private readonly pool: pg.Pool,
    private readonly templates: TemplateRegistry,
    private readonly backupOptions?: HealthBackupOptions,
  ) {}

  /** Checks one tenant (the caller has already been authorized for it). */
  async check(tenant: TenantRow): Promise<TenantHealthView> {
    const reasons: string[] = [];
    const schema = tenant.schemaName;

    const catalog = await this.pool.query<{
      schema_present: boolean;
      role_present: boolean;
      size: string | null;
    }>(
      `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema_present,
              EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS role_present,
              (SELECT sum(pg_total_relation_size(c.oid))::bigint
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm')) AS size`,
      [schema],
    );
    const row = catalog.rows[0];
    const schemaPresent = row?.schema_present === true;
    const rolePresent = row?.role_present === true;
    const schemaSizeBytes = schemaPresent ? Number(row?.size ?? 0) : null;

    let template: TenantTemplate | undefined;
    try {
      template = await this.templates.load(tenant.template);
    } catch (err) {
      if (!(err instanceof UnknownTemplateError)) throw err;
      reasons.push(`template "${tenant.template}" is unknown`);
    }
    let migrationsExpected = 0;
    let migrationsApplied = 0;
    let rowCounts: Record<string, number> = {};
    if (template) {
      for (const set of template.migrations) migrationsExpected += await expectedMigrations(set);
      if (schemaPresent && rolePresent) {
        const t = template;
        await withTenant(this.pool, { tenantId: tenant.id, schemaName: schema }, async (_tx, client) => {
          migrationsApplied = await appliedMigrations(client, t, schema);
          rowCounts = await countRows(client, schema, new Set(t.migrations.map((m) => m.table)));
        }).catch(() => {
          reasons.push('migration records unreadable');
        });
      }
    }
    // Sessions (other than ours) holding locks on the tenant's tables: the connections at work on it.
    const active = schemaPresent
      ? await this.pool.query<{ n: number }>(
          `SELECT count(DISTINCT l.pid)::int AS n FROM pg_locks l
             JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace ns ON ns.oid = c.relnamespace
            WHERE ns.nspname = $1 AND l.pid <> pg_backend_pid()`,
          [schema],
        )
      : undefined;
    const activeConnections = active?.rows[0]?.n ?? 0;

    const b = this.backupOptions;
    const quotaBytes = b?.quotaBytes ?? 0;
    const summary = b ? await b.backups.summary(tenant.id) : { last: undefined, lastVerified: undefined };
    const lastVerifiedAt = summary.lastVerified?.completedAt ?? null;
    const now = new Date();
    const lastVerifiedBackupAgeSeconds = lastVerifiedAt
      ? (now.getTime() - lastVerifiedAt.getTime()) / 1000
      : null;
    if (b && tenant.status === 'ACTIVE') {
      if (schemaSizeBytes !== null && quotaBytes > 0) {
        const share = schemaSizeBytes / quotaBytes;
        if (share >= 1) reasons.push('schema is over its size quota');
        else if (share >= 0.8) reasons.push(`schema uses ${Math.floor(share * 100)}% of its size quota`);
      }
      if (b.configured) {
        const staleSeconds = b.staleAfterHours * 3600;
        if (summary.last?.status === 'FAILED') reasons.push('the last backup failed');
        if (lastVerifiedBackupAgeSeconds === null) {
          const since = tenant.provisionedAt ?? tenant.createdAt;
          if ((now.getTime() - since.getTime()) / 1000 > staleSeconds) reasons.push('no verified backup');
        } else if (lastVerifiedBackupAgeSeconds > staleSeconds) {
          reasons.push(
            `the newest verified backup is ${Math.floor(lastVerifiedBackupAgeSeconds / 3600)} hours old`,
          );
        }
      }
    }

    switch (tenant.status) {
      case 'FAILED':
        reasons.push('provisioning failed');
        break;
      case 'SUSPENDED':
        reasons.push('tenant suspended');
        break;
      case 'PROVISIONING':
        reasons.push('provisioning in progress');
        break;
      case 'ACTIVE':
        break;
    }
    if (tenant.status !== 'PROVISIONING') {
      if (!schemaPresent) reasons.push('schema missing');
      if (!rolePresent) reasons.push('tenant role missing');
      if (schemaPresent && migrationsApplied < migrationsExpected) {
        reasons.push(`${migrationsExpected - migrationsApplied} template migration(s) pending`);
      }
      if (migrationsApplied > migrationsExpected) reasons.push('schema is ahead of its template');
    }

    const down =
      tenant.status === 'FAILED' ||
      tenant.status === 'SUSPENDED' ||
      (tenant.status === 'ACTIVE' && (!schemaPresent || !rolePresent));
    const status: HealthStatus = down ? 'DOWN' : reasons.length > 0 ? 'DEGRADED' : 'OK';
    return {
      status,
      schemaPresent,
      migrationsApplied,
      migrationsExpected,
      schemaSizeBytes,
      quotaBytes,
      rowCounts,
      activeConnections,
      lastBackupStatus: summary.last?.status ?? null,
      lastBackupAt: summary.last?.startedAt ?? null,
      lastVerifiedBackupAt: lastVerifiedAt,
      lastVerifiedBackupAgeSeconds,
      reasons,
      checkedAt: now,
    };
  }
}

/**
 * Rows per table of the schema, migration record tables excluded: exact up to {@link ROW_COUNT_CAP}
 * (a capped scan stays cheap on big tables), the planner's estimate beyond.
 */
async function countRows(
  client: pg.PoolClient,
  schema: string,
  exclude: Set<string>,
): Promise<Record<string, number>> {
  const tables = await client.query<{ name: string; estimate: number }>(
    `SELECT c.relname AS name, greatest(c.reltuples, 0)::float8 AS estimate
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1`,
    [schema],
  );
  const out: Record<string, number> = {};
  for (const t of tables.rows) {
    if (exclude.has(t.name)) continue;
    const r = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${ident(schema)}."${t.name.replace(/"/g, '""')}" LIMIT ${ROW_COUNT_CAP + 1}) s`,
    );
    const n = r.rows[0]?.n ?? 0;
    out[t.name] = n > ROW_COUNT_CAP ? Math.max(Math.round(t.estimate), n) : n;
  }
  return out;
}
