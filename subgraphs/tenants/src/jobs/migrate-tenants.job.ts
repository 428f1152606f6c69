/**
 * migrate-tenants: brings every ACTIVE tenant schema to its template's current version, in batches,
 * with the same migrator and grants as provisioning (and under the same per-tenant lock). A failing
 * tenant is reported and skipped; the others go on. Run as a `tenant-migrations` job or directly
 * (`runMigrateTenants`, the Makefile's entry).
 */
import type pg from 'pg';
import type { TenantsConfig } from '../config.js';
import { createPool } from '../../../../lib/db.js';
import type { Logger } from '../../../../lib/logger.js';
import type { TenantRow } from '../db/schema.js';
import { TenantRepository } from '../tenant.repository.js';
import { TemplateRegistry } from '../template.registry.js';
import { describeError } from './provision.job.js';
import {
  appliedMigrations,
  applyTemplateMigrations,
  grantTenantTables,
  withTenantLock,
} from './tenant-ddl.js';

export interface MigrateTenantsDeps {
  config: Pick<
    TenantsConfig,
    'DATABASE_OWNER_URL' | 'PROVISIONING_CONCURRENCY' | 'TENANT_MIGRATION_BATCH_SIZE'
  >;
  ownerPool: pg.Pool;
  repo: TenantRepository;
  templates: TemplateRegistry;
  logger: Logger;
}

export interface MigrateTenantsOptions {
  /** Only tenants of this template. */
  template?: string | undefined;
  /** Tenants per batch (default config.TENANT_MIGRATION_BATCH_SIZE). */
  batchSize?: number | undefined;
  /** Called after each batch with the number of tenants handled so far. */
  onBatch?: ((handled: number) => Promise<void>) | undefined;
}

export interface MigrateTenantsResult {
  /** ACTIVE tenants looked at. */
  tenants: number;
  /** Tenants whose schema is now at the template's version. */
  migrated: number;
  failed: { tenantId: string; error: string }[];
}

/** Migrates every ACTIVE tenant schema; see the module comment. */
export async function migrateTenants(
  deps: MigrateTenantsDeps,
  opts: MigrateTenantsOptions = {},
): Promise<MigrateTenantsResult> {
  const batchSize = opts.batchSize ?? deps.config.TENANT_MIGRATION_BATCH_SIZE;
  const concurrency = Math.max(1, deps.config.PROVISIONING_CONCURRENCY);
  const result: MigrateTenantsResult = { tenants: 0, migrated: 0, failed: [] };
  let after: string | undefined;
  for (;;) {
    const batch = await deps.repo.activeBatch(after, batchSize);
    if (batch.length === 0) break;
    after = batch[batch.length - 1]?.id;
    const todo = batch.filter((t) => !opts.template || t.template === opts.template);
    for (let i = 0; i < todo.length; i += concurrency) {
      await Promise.all(
        todo.slice(i, i + concurrency).map(async (tenant) => {
          try {
            await migrateOne(deps, tenant);
            result.migrated++;
          } catch (err) {
            const error = describeError(err);
            deps.logger.error({ tenantId: tenant.id, error }, 'tenant schema migration failed');
            result.failed.push({ tenantId: tenant.id, error });
          }
        }),
      );
    }
    result.tenants += todo.length;
    await opts.onBatch?.(result.tenants);
    if (batch.length < batchSize) break;
  }
  deps.logger.info({ ...result, failed: result.failed.length }, 'migrate-tenants finished');
  return result;
}

async function migrateOne(deps: MigrateTenantsDeps, tenant: TenantRow): Promise<void> {
  const template = await deps.templates.load(tenant.template);
  await withTenantLock(deps.ownerPool, tenant.id, async (client) => {
    await applyTemplateMigrations(deps.config, template, tenant.schemaName);
    await grantTenantTables(client, template, tenant.schemaName, tenant.schemaName);
    deps.logger.debug(
      { tenantId: tenant.id, applied: await appliedMigrations(client, template, tenant.schemaName) },
      'tenant schema migrated',
    );
  });
}

/**
 * Runs migrate-tenants with its own connections and closes them (the Makefile's `migrate-tenants`
 * target, through src/migrate-tenants.ts).
 */
export async function runMigrateTenants(
  config: TenantsConfig,
  logger: Logger,
  opts: MigrateTenantsOptions = {},
): Promise<MigrateTenantsResult> {
  const ownerPool = createPool(config, config.DATABASE_OWNER_URL, 'tenants-migrate');
  const appPool = createPool(config, config.DATABASE_URL, 'tenants-migrate');
  try {
    return await migrateTenants(
      {
        config,
        ownerPool,
        repo: new TenantRepository(appPool),
        templates: new TemplateRegistry(config.TENANT_TEMPLATES_DIR),
        logger,
      },
      opts,
    );
  } finally {
    await Promise.all([ownerPool.end(), appPool.end()]);
  }
}
