/**
 * Tenant health, checked live: the tenant's role and schema exist, its template migrations are all
 * applied, and how much space the schema takes. OK / DEGRADED / DOWN with readable reasons. (The
 * backup work adds backup freshness to the same check.)
 */
import type pg from 'pg';
import { withTenant } from '../../../lib/db.js';
import type { TenantRow } from './db/schema.js';
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
  reasons: string[];
  checkedAt: Date;
}

export class HealthService {
  constructor(
    /** App-role pool: catalogs are readable by everyone; record tables through withTenant. */
    private readonly pool: pg.Pool,
    private readonly templates: TemplateRegistry,
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
    if (template) {
      for (const set of template.migrations) migrationsExpected += await expectedMigrations(set);
      if (schemaPresent && rolePresent) {
        const t = template;
        migrationsApplied = await withTenant(
          this.pool,
          { tenantId: tenant.id, schemaName: schema },
          (_tx, client) => appliedMigrations(client, t, schema),
        ).catch(() => {
          reasons.push('migration records unreadable');
          return 0;
        });
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
      reasons,
      checkedAt: new Date(),
    };
  }
}
