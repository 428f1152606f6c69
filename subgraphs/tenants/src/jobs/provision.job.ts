/**
 * The `provision` job of the `tenant-provisioning` queue: builds a tenant's role and schema from its
 * template, seeds it, and marks the tenant ACTIVE. Every step is safe to run twice; the whole run
 * holds the tenant's advisory lock.
 */
import { performance } from 'node:perf_hooks';
import { UnrecoverableError, type Job } from 'bullmq';
import type pg from 'pg';
import type { TenantsConfig } from '../config.js';
import { tenantSchemaName, withTenant } from '../../../../lib/db.js';
import type { Logger } from '../../../../lib/logger.js';
import { SYSTEM, type TenantRepository } from '../tenant.repository.js';
import type { ProvisioningMetrics } from '../tenants.metrics.js';
import { UnknownTemplateError, type TemplateRegistry, type TenantTemplate } from '../template.registry.js';
import type { ProvisionJobData, ProvisionJobResult } from './queues.js';
import type { SchemaPool } from './schema-pool.js';
import { runSeed } from './seeds.js';
import {
  appliedMigrations,
  applyTemplateMigrations,
  ensureTenantRole,
  ensureTenantSchema,
  grantTenantTables,
  withTenantLock,
} from './tenant-ddl.js';

/** Steps of a provisioning run, in order, with the progress reported once each is done. */
export const PROVISIONING_STEPS = [
  ['role', 20],
  ['schema', 40],
  ['migrations', 70],
  ['seed', 90],
  ['activate', 100],
] as const;
export type ProvisioningStep = (typeof PROVISIONING_STEPS)[number][0];

/** A step failed; the message is safe to show (Job.error), the cause carries the details. */
export class ProvisioningStepError extends Error {
  constructor(
    readonly step: ProvisioningStep,
    cause: unknown,
  ) {
    super(`provisioning step "${step}" failed`, { cause });
    this.name = 'ProvisioningStepError';
  }
}

/** The part of a BullMQ job the processor uses (tests pass their own). */
export type ProvisionJob = Pick<
  Job<ProvisionJobData, ProvisionJobResult>,
  'data' | 'attemptsMade' | 'opts' | 'updateProgress'
>;

export interface ProvisionerDeps {
  config: Pick<
    TenantsConfig,
    'DATABASE_APP_ROLE' | 'DATABASE_OWNER_ROLE' | 'DATABASE_OWNER_URL' | 'PAPER_STARTING_CASH'
  >;
  /** Owner-role pool: advisory locks and DDL. */
  ownerPool: pg.Pool;
  /** App-role pool: tenancy rows (system scope) and seeds (withTenant). */
  appPool: pg.Pool;
  repo: TenantRepository;
  templates: TemplateRegistry;
  logger: Logger;
  metrics?: ProvisioningMetrics | undefined;
  /**
   * Schemas built ahead of sign-up: a tenant of the pool's template takes one (renamed), and the
   * steps below find its role, schema and tables in place. Without it (or when it is empty) they
   * build them.
   */
  pool?: SchemaPool | undefined;
  /**
   * Called once the tenant is ACTIVE, inside the run (so a failure retries the job, which is
   * idempotent): the worker queues the tenant's INITIAL backup here.
   */
  onProvisioned?: ((tenantId: string) => Promise<void>) | undefined;
}

/** Details of an error for `tenants.last_error` and logs (never shown through the API). */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    parts.push(typeof code === 'string' ? `${e.message} (${code})` : e.message);
    e = e.cause;
  }
  return parts.length > 0 ? parts.join(': ') : String(err);
}

export class Provisioner {
  constructor(private readonly deps: ProvisionerDeps) {}

  /**
   * BullMQ processor. On the last attempt (or a permanent fault) the tenant becomes FAILED with the
   * error before the job fails, so a tenant never stays PROVISIONING after its job gave up.
   */
  async process(job: ProvisionJob): Promise<ProvisionJobResult> {
    const { tenantId } = job.data;
    const started = performance.now();
    const elapsed = (): number => (performance.now() - started) / 1000;
    try {
      const result = await this.provision(tenantId, (p) => job.updateProgress(p));
      this.deps.metrics?.duration.observe({ result: 'success' }, elapsed());
      this.deps.metrics?.provisioned.inc({ result: 'success' });
      return result;
    } catch (err) {
      this.deps.metrics?.duration.observe({ result: 'error' }, elapsed());
      const attempts = job.opts.attempts ?? 1;
      const final = err instanceof UnrecoverableError || job.attemptsMade + 1 >= attempts;
      const detail = describeError(err);
      this.deps.logger.warn(
        { tenantId, attempt: job.attemptsMade + 1, attempts, final, error: detail },
        'tenant provisioning attempt failed',
      );
      if (final) {
        this.deps.metrics?.provisioned.inc({ result: 'failure' });
        await this.deps.repo.markFailed(tenantId, detail).catch((e: unknown) => {
          this.deps.logger.error({ err: e, tenantId }, 'could not mark tenant FAILED');
        });
      }
      if (err instanceof UnrecoverableError || err instanceof ProvisioningStepError) throw err;
      throw new Error('provisioning failed', { cause: err });
    }
  }

  /**
   * Provisions one tenant. Safe to call again at any point: a second run finds everything in place
   * and changes nothing.
   */
  async provision(tenantId: string, progress: (p: number) => Promise<void>): Promise<ProvisionJobResult> {
    const { repo, templates, config, ownerPool, appPool } = this.deps;
    const tenant = await repo.findById(SYSTEM, tenantId);
    if (!tenant) throw new UnrecoverableError(`unknown tenant ${tenantId}`);
    const schema = tenantSchemaName(tenant.id);
    if (tenant.schemaName !== schema)
      throw new UnrecoverableError(`tenant ${tenantId} has an unexpected schema name`);
    if (tenant.status === 'SUSPENDED') {
      return { tenantId, schemaName: schema, status: 'SUSPENDED', migrationsApplied: 0 };
    }
    let template: TenantTemplate;
    try {
      template = await templates.load(tenant.template);
    } catch (err) {
      if (err instanceof UnknownTemplateError) throw new UnrecoverableError(err.message);
      throw err;
    }
    const role = schema;

    return withTenantLock(ownerPool, tenant.id, async (client) => {
      const step = async (name: ProvisioningStep, fn: () => Promise<void>): Promise<void> => {
        try {
          await fn();
        } catch (err) {
          if (err instanceof UnrecoverableError) throw err;
          throw new ProvisioningStepError(name, err);
        }
        const done = PROVISIONING_STEPS.find(([n]) => n === name);
        if (done) await progress(done[1]);
      };

      await step('role', async () => {
        await this.deps.pool?.claim(client, template.name, schema);
        await ensureTenantRole(client, config, role);
      });
      await step('schema', () => ensureTenantSchema(client, config, schema, role));
      await step('migrations', async () => {
        await applyTemplateMigrations(config, template, schema);
        await grantTenantTables(client, template, schema, role);
      });
      await step('seed', () =>
        withTenant(appPool, { tenantId: tenant.id, schemaName: schema }, async (_tx, c) => {
          for (const seed of template.seeds) await runSeed(seed, c, config);
        }),
      );
      await step('activate', () => repo.markActive(tenant.id));
      await this.deps.onProvisioned?.(tenant.id);
      return {
        tenantId: tenant.id,
        schemaName: schema,
        status: 'ACTIVE',
        migrationsApplied: await appliedMigrations(client, template, schema),
      };
    });
  }
}
