/**
 * The DDL steps that build a tenant's role and schema, shared by provisioning and migrate-tenants.
 * Every step is safe to run twice: it checks the catalog, creates what is missing and re-applies
 * grants whose result does not depend on how often they ran.
 */
import { UnrecoverableError } from 'bullmq';
import type pg from 'pg';
import type { Config } from '../../../../lib/config.js';
import { ident, runMigrations, type PoolClient } from '../../../../lib/db.js';
import type { TenantTemplate } from '../template.registry.js';

/**
 * Runs `fn` holding a session-level advisory lock for the tenant, on one connection of `pool`, so
 * two runs (a retried job and a stalled one, provisioning and migrate-tenants) never interleave. The
 * lock dies with the connection if the process does.
 */
export async function withTenantLock<T>(
  pool: pg.Pool,
  tenantId: string,
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const key = `tradesage:tenant:${tenantId}`;
  const client = await pool.connect();
  let destroy = false;
  try {
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]);
    try {
      return await fn(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]).catch(() => {
        // Unlock failed (connection trouble): drop the connection, which releases the lock.
        destroy = true;
      });
    }
  } finally {
    client.release(destroy);
  }
}

async function inTransaction(client: PoolClient, fn: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await fn();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Step 1: the tenant's NOLOGIN role, granted to the app role (which is NOINHERIT, so it gains the
 * tenant's privileges only inside withTenant's `SET LOCAL ROLE`).
 */
export async function ensureTenantRole(
  client: PoolClient,
  config: Pick<Config, 'DATABASE_APP_ROLE'>,
  role: string,
): Promise<void> {
  await inTransaction(client, async () => {
    const found = await client.query<{ rolcanlogin: boolean; rolsuper: boolean; rolbypassrls: boolean }>(
      'SELECT rolcanlogin, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1',
      [role],
    );
    const existing = found.rows[0];
    if (!existing) {
      await client.query(`CREATE ROLE ${ident(role)} NOLOGIN`);
    } else {
      // Only a superuser could have made these; we cannot (and must not) repair that silently.
      if (existing.rolsuper || existing.rolbypassrls) {
        throw new UnrecoverableError(`tenant role ${role} has SUPERUSER or BYPASSRLS`);
      }
      if (existing.rolcanlogin) await client.query(`ALTER ROLE ${ident(role)} NOLOGIN`);
    }
    const member = await client.query(
      `SELECT 1 FROM pg_auth_members m
         JOIN pg_roles r ON r.oid = m.roleid
         JOIN pg_roles u ON u.oid = m.member
        WHERE r.rolname = $1 AND u.rolname = $2`,
      [role, config.DATABASE_APP_ROLE],
    );
    if (member.rowCount === 0)
      await client.query(`GRANT ${ident(role)} TO ${ident(config.DATABASE_APP_ROLE)}`);
  });
}

/**
 * Step 2: the schema, owned by the owner role (which runs migrations), closed to PUBLIC, usable by the
 * tenant role, with default privileges so every table the owner creates there later is reachable by
 * the tenant role (and by nobody else).
 */
export async function ensureTenantSchema(
  client: PoolClient,
  config: Pick<Config, 'DATABASE_OWNER_ROLE'>,
  schema: string,
  role: string,
): Promise<void> {
  const s = ident(schema);
  const r = ident(role);
  const owner = ident(config.DATABASE_OWNER_ROLE);
  await inTransaction(client, async () => {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s} AUTHORIZATION ${owner}`);
    const ns = await client.query<{ owner: string }>(
      'SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = $1',
      [schema],
    );
    if (ns.rows[0]?.owner !== config.DATABASE_OWNER_ROLE) {
      throw new UnrecoverableError(`schema ${schema} exists with another owner`);
    }
    await client.query(`REVOKE ALL ON SCHEMA ${s} FROM PUBLIC`);
    await client.query(`GRANT USAGE ON SCHEMA ${s} TO ${r}`);
    await client.query(
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${r}`,
    );
    await client.query(
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT USAGE, SELECT ON SEQUENCES TO ${r}`,
    );
  });
}

/**
 * Step 3a: the template's migration sets, in order, with the real migrator, as the owner role. Each
 * set keeps its record table inside the tenant schema; the migrator skips what the record lists.
 */
export async function applyTemplateMigrations(
  config: Pick<Config, 'DATABASE_OWNER_URL'>,
  template: TenantTemplate,
  schema: string,
): Promise<void> {
  for (const set of template.migrations) {
    await runMigrations({
      url: config.DATABASE_OWNER_URL,
      folder: set.folder,
      recordSchema: schema,
      recordTable: set.table,
      searchPath: schema,
    });
  }
}

/**
 * Step 3b: privileges on the tables that exist now (default privileges cover the owner's future
 * tables; this also covers anything created otherwise). Migration record tables are read-only for
 * the tenant role: health checks read them, nothing in a tenant's scope may rewrite its history.
 */
export async function grantTenantTables(
  client: PoolClient,
  template: TenantTemplate,
  schema: string,
  role: string,
): Promise<void> {
  const s = ident(schema);
  const r = ident(role);
  await inTransaction(client, async () => {
    await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${r}`);
    await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${r}`);
    for (const set of template.migrations) {
      const table = `${s}.${ident(set.table)}`;
      const exists = await client.query<{ seq: string | null }>(
        'SELECT pg_get_serial_sequence($1, $2) AS seq FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $3 AND c.relname = $4',
        [`${schema}.${set.table}`, 'id', schema, set.table],
      );
      if (exists.rowCount === 0) continue;
      await client.query(`REVOKE ALL ON TABLE ${table} FROM ${r}`);
      await client.query(`GRANT SELECT ON TABLE ${table} TO ${r}`);
      const seq = exists.rows[0]?.seq;
      if (seq) await client.query(`REVOKE ALL ON SEQUENCE ${seq} FROM ${r}`);
    }
  });
}

/** Rows in the template's migration record tables of a schema (missing tables count 0). */
export async function appliedMigrations(
  client: PoolClient,
  template: TenantTemplate,
  schema: string,
): Promise<number> {
  let total = 0;
  for (const set of template.migrations) {
    const exists = await client.query('SELECT to_regclass($1) IS NOT NULL AS ok', [`${schema}.${set.table}`]);
    if ((exists.rows[0] as { ok: boolean } | undefined)?.ok !== true) continue;
    const n = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${ident(schema)}.${ident(set.table)}`,
    );
    total += n.rows[0]?.n ?? 0;
  }
  return total;
}
