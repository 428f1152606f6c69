/**
 * The warm pool of tenant schemas. Building a tenant schema is mostly index builds, and PostgreSQL 15
 * fsyncs every index it builds: a burst of sign-ups used to queue every other tenant's commits behind
 * those syncs (bench/noisy-neighbour.ts). The worker builds schemas ahead of sign-up instead, one at a
 * time, only after sign-ups pause (TENANT_POOL_SIZE, TENANT_POOL_REFILL_INTERVAL_MS), each as a role and schema named
 * `pool_<hex>` with the template's migrations and grants applied. Provisioning claims one by renaming
 * it to the tenant's name in one transaction (schema and role renames are catalog updates: no file is
 * written or synced), then runs the usual idempotent steps, which find everything in place, apply any
 * migration added since the entry was built, and seed the tenant.
 *
 * Safety: grants, default privileges and role memberships refer to objects by OID, so they follow the
 * rename; a claim happens only while the tenant's own role and schema do not exist yet (a retried job
 * after a claim finds them and builds nothing); an entry's row exists (ready = false) before its role
 * and schema, so a build that died is found and dropped by the next refill, which holds the pool's
 * advisory lock (one builder per database). Roles are cluster-wide; only roles named in this
 * database's pool table are ever dropped.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { TenantsConfig } from '../config.js';
import { ident, type PoolClient } from '../../../../lib/db.js';
import type { Logger } from '../../../../lib/logger.js';
import type { TemplateRegistry } from '../template.registry.js';
import {
  applyTemplateMigrations,
  ensureTenantRole,
  ensureTenantSchema,
  grantTenantTables,
} from './tenant-ddl.js';

const POOL_LOCK = 'tradesage:schema-pool';

/** What one refill round did. */
export type RefillOutcome = 'built' | 'full' | 'busy' | 'off';

export interface SchemaPoolDeps {
  config: Pick<
    TenantsConfig,
    | 'DATABASE_APP_ROLE'
    | 'DATABASE_OWNER_ROLE'
    | 'DATABASE_OWNER_URL'
    | 'DEFAULT_TENANT_TEMPLATE'
    | 'TENANT_POOL_SIZE'
    | 'TENANT_POOL_REFILL_INTERVAL_MS'
  >;
  /** Owner-role pool: the pool table, advisory locks and DDL. */
  ownerPool: pg.Pool;
  templates: TemplateRegistry;
  logger: Logger;
  /** Called after each claim attempt (metrics). */
  onClaim?: (hit: boolean) => void;
}

export class SchemaPool {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<unknown> = Promise.resolve();
  private stopped = true;

  constructor(private readonly deps: SchemaPoolDeps) {}

  /** Whether the pool is on (TENANT_POOL_SIZE > 0). */
  get enabled(): boolean {
    return this.deps.config.TENANT_POOL_SIZE > 0;
  }

  /**
   * Renames a ready entry of `template` to `target` (role and schema), on `client` (owner role), in
   * one transaction. Returns false, changing nothing, when the pool is off or has no ready entry of
   * that template, or when a role or schema named `target` already exists (a retried provisioning).
   */
  async claim(client: PoolClient, template: string, target: string): Promise<boolean> {
    if (!this.enabled) return false;
    const hit = await this.claimIn(client, template, target);
    this.deps.onClaim?.(hit);
    return hit;
  }

  private async claimIn(client: PoolClient, template: string, target: string): Promise<boolean> {
    await client.query('BEGIN');
    try {
      const taken = await client.query(
        `SELECT 1 FROM pg_namespace WHERE nspname = $1 UNION ALL SELECT 1 FROM pg_roles WHERE rolname = $1`,
        [target],
      );
      const entry =
        taken.rowCount === 0
          ? await client.query<{ name: string }>(
              `DELETE FROM tenancy.schema_pool
                WHERE name = (SELECT name FROM tenancy.schema_pool WHERE template = $1 AND ready
                               ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING name`,
              [template],
            )
          : undefined;
      const name = entry?.rows[0]?.name;
      if (name === undefined) {
        await client.query('ROLLBACK');
        return false;
      }
      await client.query(`ALTER SCHEMA ${ident(name)} RENAME TO ${ident(target)}`);
      await client.query(`ALTER ROLE ${ident(name)} RENAME TO ${ident(target)}`);
      await client.query('COMMIT');
      return true;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /**
   * One refill round: under the pool's advisory lock (skipped when another process holds it), drops
   * entries whose build died, then builds one entry of the default template if the pool is short.
   */
  async refill(): Promise<RefillOutcome> {
    const { config, ownerPool } = this.deps;
    if (!this.enabled) return 'off';
    const client = await ownerPool.connect();
    let destroy = false;
    try {
      // Cheap checks first, without the lock: a full pool with nothing unfinished needs nothing.
      const before = await this.count(client);
      if (before.ready >= config.TENANT_POOL_SIZE && before.unfinished === 0) return 'full';
      if (await this.signingUp(client)) return 'busy';
      const locked = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok',
        [POOL_LOCK],
      );
      if (locked.rows[0]?.ok !== true) return 'busy';
      try {
        await this.dropUnfinished(client);
        const { ready } = await this.count(client);
        if (ready >= config.TENANT_POOL_SIZE) return 'full';
        await this.build(client, config.DEFAULT_TENANT_TEMPLATE);
        return 'built';
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [POOL_LOCK]).catch(() => {
          destroy = true;
        });
      }
    } finally {
      client.release(destroy);
    }
  }

  /** Ready entries of the default template, and unfinished entries of any template. */
  private async count(client: PoolClient): Promise<{ ready: number; unfinished: number }> {
    const r = await client.query<{ ready: number; unfinished: number }>(
      `SELECT count(*) FILTER (WHERE ready AND template = $1)::int AS ready,
              count(*) FILTER (WHERE NOT ready)::int AS unfinished
         FROM tenancy.schema_pool`,
      [this.deps.config.DEFAULT_TENANT_TEMPLATE],
    );
    return { ready: r.rows[0]?.ready ?? 0, unfinished: r.rows[0]?.unfinished ?? 0 };
  }

  /**
   * Whether sign-ups are under way anywhere (any worker replica): a tenant provisioning, or one created
   * within the refill interval. Refills wait for a pause, so a burst of sign-ups meets no index build.
   */
  private async signingUp(client: PoolClient): Promise<boolean> {
    await client.query('BEGIN');
    try {
      // tenancy.tenants' row-level security is forced: the platform scope, for this transaction only.
      await client.query("SELECT set_config('app.system', 'on', true)");
      const r = await client.query<{ busy: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM tenancy.tenants
                         WHERE status = 'PROVISIONING' OR created_at > now() - make_interval(secs => $1)) AS busy`,
        [this.deps.config.TENANT_POOL_REFILL_INTERVAL_MS / 1000],
      );
      await client.query('COMMIT');
      return r.rows[0]?.busy === true;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** Ready entries of the default template (0 when the pool is off). */
  async ready(): Promise<number> {
    if (!this.enabled) return 0;
    const r = await this.deps.ownerPool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM tenancy.schema_pool WHERE template = $1 AND ready',
      [this.deps.config.DEFAULT_TENANT_TEMPLATE],
    );
    return r.rows[0]?.n ?? 0;
  }

  /** Runs a refill round every TENANT_POOL_REFILL_INTERVAL_MS until stop(); the first one at once. */
  start(): void {
    if (!this.enabled || !this.stopped) return;
    this.stopped = false;
    const tick = (): void => {
      this.round = this.refill()
        .catch((err: unknown) => {
          this.deps.logger.warn({ err }, 'schema pool refill failed');
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.deps.config.TENANT_POOL_REFILL_INTERVAL_MS);
        });
    };
    tick();
  }

  /** Stops the refills and waits for a round in progress (an entry mid-build is finished). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.round;
  }

  private async build(client: PoolClient, templateName: string): Promise<void> {
    const { config, templates, logger } = this.deps;
    const template = await templates.load(templateName);
    const name = `pool_${randomBytes(8).toString('hex')}`;
    // The row first: if this process dies mid-build, the next round finds the name and drops it.
    await client.query('INSERT INTO tenancy.schema_pool (name, template) VALUES ($1, $2)', [
      name,
      template.name,
    ]);
    await ensureTenantRole(client, config, name);
    await ensureTenantSchema(client, config, name, name);
    await applyTemplateMigrations(config, template, name);
    await grantTenantTables(client, template, name, name);
    await client.query('UPDATE tenancy.schema_pool SET ready = true WHERE name = $1', [name]);
    logger.debug({ name, template: template.name }, 'schema pool entry built');
  }

  /** Drops entries whose build did not finish (the caller holds the pool lock: no build is running). */
  private async dropUnfinished(client: PoolClient): Promise<void> {
    const stale = await client.query<{ name: string }>(
      'SELECT name FROM tenancy.schema_pool WHERE NOT ready',
    );
    for (const { name } of stale.rows) {
      await dropEntry(client, name);
      this.deps.logger.warn({ name }, 'dropped an unfinished schema pool entry');
    }
  }
}

/**
 * Drops one pool entry: its schema (with its tables and default privileges), its role and its row, in
 * one transaction.
 */
export async function dropEntry(client: PoolClient, name: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${ident(name)} CASCADE`);
    const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
    if (role.rowCount) await client.query(`DROP ROLE ${ident(name)}`);
    await client.query('DELETE FROM tenancy.schema_pool WHERE name = $1', [name]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
