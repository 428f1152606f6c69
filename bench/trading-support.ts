/**
 * Shared by the trading benchmarks: tenants provisioned with the tenants worker's own provisioning
 * function (role, schema, template migrations, paper account), several at a time.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../lib/config.js';
import { createPool, tenantSchemaName } from '../lib/db.js';
import { createLogger } from '../lib/logger.js';
import { Provisioner } from '../subgraphs/tenants/src/jobs/provision.job.js';
import { TenantRepository } from '../subgraphs/tenants/src/tenant.repository.js';
import { TemplateRegistry } from '../subgraphs/tenants/src/template.registry.js';

export interface BenchTenant {
  tenantId: string;
  schemaName: string;
  ownerId: string;
  accountId: string;
}

/** Provisions `n` tenants (`concurrency` at a time) and returns them with their paper account. */
export async function provisionTenants(config: Config, n: number, concurrency = 4): Promise<BenchTenant[]> {
  const ownerPool = createPool(config, config.DATABASE_OWNER_URL, 'bench-owner');
  const appPool = createPool(config, config.DATABASE_URL, 'bench-app');
  const repo = new TenantRepository(appPool);
  const provisioner = new Provisioner({
    config,
    ownerPool,
    appPool,
    repo,
    templates: new TemplateRegistry(config.TENANT_TEMPLATES_DIR),
    logger: createLogger(config, 'bench'),
  });
  const out: BenchTenant[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) {
          next++;
          const tenantId = randomUUID();
          const ownerId = randomUUID();
          const schemaName = tenantSchemaName(tenantId);
          await repo.createWithOwner(
            {
              id: tenantId,
              organizationName: `Bench ${tenantId.slice(0, 8)}`,
              template: 'trading',
              schemaName,
            },
            ownerId,
          );
          await provisioner.provision(tenantId, () => Promise.resolve());
          const r = await ownerPool.query<{ id: string }>(`SELECT id FROM "${schemaName}".accounts LIMIT 1`);
          const accountId = r.rows[0]?.id;
          if (!accountId) throw new Error('no paper account');
          out.push({ tenantId, schemaName, ownerId, accountId });
        }
      }),
    );
  } finally {
    await Promise.all([ownerPool.end(), appPool.end()]);
  }
  return out;
}

/** The p-th percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
