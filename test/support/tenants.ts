/**
 * Tenants provisioned the way the tenants worker provisions them (role, schema, template migrations,
 * paper-account seed), without the worker: for trading and backup tests and for benchmarks that need
 * real tenant schemas.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { tenantSchemaName } from '../../lib/db.js';
import { createLogger } from '../../lib/logger.js';
import { Provisioner } from '../../subgraphs/tenants/src/jobs/provision.job.js';
import { TenantRepository } from '../../subgraphs/tenants/src/tenant.repository.js';
import { TemplateRegistry } from '../../subgraphs/tenants/src/template.registry.js';
import type { TenantsConfig } from '../../subgraphs/tenants/src/config.js';

/** A provisioned tenant. */
export interface ProvisionedTenant {
  tenantId: string;
  schemaName: string;
  ownerId: string;
}

/** The tenants worker's provisioning, driven directly. */
export interface TestProvisioner {
  repo: TenantRepository;
  provisioner: Provisioner;
  /** Creates the tenant row (template `trading`) with its owner, then provisions its schema. */
  provision(opts?: {
    tenantId?: string;
    ownerId?: string;
    organizationName?: string;
  }): Promise<ProvisionedTenant>;
}

/**
 * @param pools the owner pool (DDL) and the app pool (tenant rows), as the worker uses them
 * @param label logger name
 */
export function createTestProvisioner(
  config: TenantsConfig,
  pools: { ownerPool: pg.Pool; appPool: pg.Pool },
  label: string,
): TestProvisioner {
  const repo = new TenantRepository(pools.appPool);
  const provisioner = new Provisioner({
    config,
    ownerPool: pools.ownerPool,
    appPool: pools.appPool,
    repo,
    templates: new TemplateRegistry(config.TENANT_TEMPLATES_DIR),
    logger: createLogger(config, label),
  });
  return {
    repo,
    provisioner,
    async provision(opts = {}) {
      const tenantId = opts.tenantId ?? randomUUID();
      const ownerId = opts.ownerId ?? randomUUID();
      const schemaName = tenantSchemaName(tenantId);
      await repo.createWithOwner(
        {
          id: tenantId,
          organizationName: opts.organizationName ?? `Org ${tenantId.slice(0, 8)}`,
          template: 'trading',
          schemaName,
        },
        ownerId,
      );
      await provisioner.provision(tenantId, () => Promise.resolve());
      return { tenantId, schemaName, ownerId };
    },
  };
}

/** The id of the paper account the `trading` template seeds in a tenant's schema. */
export async function paperAccountOf(pool: pg.Pool, schemaName: string): Promise<string> {
  const r = await pool.query<{ id: string }>(`SELECT id FROM "${schemaName}".accounts LIMIT 1`);
  const id = r.rows[0]?.id;
  if (!id) throw new Error('provisioning left no paper account');
  return id;
}
