/**
 * Prepares PostgreSQL for TradeSage (`make db-init`, the run command, and test global setup):
 * roles, the database, extensions, the platform migrations it is given and the app role's grants.
 * Every step is idempotent.
 */
import path from 'node:path';
import pg from 'pg';
import { PROJECT_ROOT, type Config } from './config.js';
import { ident, runMigrations } from './db.js';

/**
 * One subgraph's platform schema and the committed migrations that build it. Each subgraph declares
 * its own (`subgraphs/<name>/src/db/migrations.ts`); the composition root lists them in order
 * (`schema/platform-migrations.ts`).
 */
export interface PlatformMigration {
  /** The owning subgraph (for messages). */
  owner: string;
  /** Platform schema, also where the record table `__migrations` lives. */
  schema: string;
  /** Absolute path of the drizzle migrations folder (`subgraphs/<name>/migrations/platform`). */
  folder: string;
  /** The app role may execute the schema's functions (they revoke EXECUTE from PUBLIC). */
  grantExecute?: boolean;
}

/** A subgraph's platform migrations folder, by the layout every subgraph follows. */
export function platformMigrationsFolder(subgraph: string): string {
  return path.join(PROJECT_ROOT, 'subgraphs', subgraph, 'migrations', 'platform');
}

type BootstrapConfig = Pick<
  Config,
  | 'DATABASE_URL'
  | 'DATABASE_OWNER_URL'
  | 'DATABASE_ADMIN_URL'
  | 'DATABASE_APP_ROLE'
  | 'DATABASE_OWNER_ROLE'
  | 'DATABASE_APP_PASSWORD'
  | 'DATABASE_OWNER_PASSWORD'
>;

function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  ident(name);
  return name;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'tradesage-bootstrap' });
  // A lost connection rejects the running query; its `error` event must not end the process (as in
  // runMigrations).
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Creates roles and the database when missing (needs a superuser: `DATABASE_ADMIN_URL`).
 * The owner role owns the schemas and runs migrations; the app role owns nothing, is NOINHERIT
 * (it gains a tenant's privileges only through `SET ROLE`) and cannot bypass row-level security.
 */
export async function bootstrapDatabase(config: BootstrapConfig): Promise<void> {
  const db = databaseName(config.DATABASE_URL);
  const owner = config.DATABASE_OWNER_ROLE;
  const app = config.DATABASE_APP_ROLE;
  await withClient(config.DATABASE_ADMIN_URL, async (c) => {
    // Roles are cluster-wide; concurrent bootstraps (parallel test files) may race on creation.
    await c.query('SELECT pg_advisory_lock(727274)');
    try {
      for (const [role, attrs, password] of [
        [owner, 'LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS', config.DATABASE_OWNER_PASSWORD],
        [app, 'LOGIN NOINHERIT NOCREATEROLE NOSUPERUSER NOBYPASSRLS', config.DATABASE_APP_PASSWORD],
      ] as const) {
        const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
        if (exists.rowCount === 0) await c.query(`CREATE ROLE ${ident(role)} ${attrs}`);
        else await c.query(`ALTER ROLE ${ident(role)} ${attrs}`);
        if (password) await c.query(`ALTER ROLE ${ident(role)} PASSWORD ${pg.escapeLiteral(password)}`);
      }
      const dbExists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
      if (dbExists.rowCount === 0) await c.query(`CREATE DATABASE ${ident(db)} OWNER ${ident(owner)}`);
    } finally {
      await c.query('SELECT pg_advisory_unlock(727274)');
    }
  });
  await withClient(withDatabase(config.DATABASE_ADMIN_URL, db), async (c) => {
    await c.query('CREATE EXTENSION IF NOT EXISTS pgcrypto');
    await c.query('CREATE EXTENSION IF NOT EXISTS citext');
    await c.query(`REVOKE ALL ON DATABASE ${ident(db)} FROM PUBLIC`);
    await c.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${ident(db)} TO ${ident(app)}`);
    await c.query(`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE ${ident(db)} TO ${ident(owner)}`);
    await c.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
  });
}

/** Applies the platform migrations in order as the owner role, then grants the app role DML on their tables. */
export async function migratePlatform(
  config: BootstrapConfig,
  migrations: readonly PlatformMigration[],
): Promise<void> {
  for (const m of migrations) {
    await runMigrations({
      url: config.DATABASE_OWNER_URL,
      folder: m.folder,
      recordSchema: m.schema,
      recordTable: '__migrations',
    });
    await withClient(config.DATABASE_OWNER_URL, async (c) => {
      const s = ident(m.schema);
      const app = ident(config.DATABASE_APP_ROLE);
      await c.query(`GRANT USAGE ON SCHEMA ${s} TO ${app}`);
      await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${app}`);
      await c.query(`REVOKE ALL ON TABLE ${s}."__migrations" FROM ${app}`);
      await c.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${app}`);
      // Such migrations revoke EXECUTE from PUBLIC on their functions (some are SECURITY DEFINER);
      // the app role gets it back explicitly, only where the owner opted in.
      if (m.grantExecute) {
        await c.query(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} TO ${app}`);
      }
    });
  }
}

/** `bootstrapDatabase` then `migratePlatform`. */
export async function initDatabase(
  config: BootstrapConfig,
  migrations: readonly PlatformMigration[],
): Promise<void> {
  await bootstrapDatabase(config);
  await migratePlatform(config, migrations);
}

/** Drops a (test) database and the tenant roles its tenants created. */
export async function dropDatabase(config: BootstrapConfig): Promise<void> {
  const db = databaseName(config.DATABASE_URL);
  const roles = await withClient(withDatabase(config.DATABASE_ADMIN_URL, db), async (c) => {
    // Tenants' roles, and those of schemas built ahead of sign-up (tenants' schema pool).
    const r = await c
      .query<{ schema_name: string }>(
        'SELECT schema_name FROM tenancy.tenants UNION ALL SELECT name FROM tenancy.schema_pool',
      )
      .catch(() => ({ rows: [] as { schema_name: string }[] }));
    return r.rows.map((x) => x.schema_name);
  }).catch(() => [] as string[]);
  await withClient(config.DATABASE_ADMIN_URL, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`);
    for (const role of roles) {
      const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      if (exists.rowCount) await c.query(`DROP ROLE ${ident(role)}`).catch(() => undefined);
    }
  });
}
