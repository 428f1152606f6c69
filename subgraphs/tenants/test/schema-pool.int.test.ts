/**
 * The warm pool of tenant schemas, with the real worker, Postgres and Redis: the worker builds entries
 * ahead of sign-up; a tenant provisioned from the pool ends with exactly the catalog (role, grants,
 * default privileges, tables, indexes, constraints) of a tenant built step by step, its seed, and no
 * access to or from other tenants; a claim never takes a name that exists or an unfinished entry, and
 * two claims never take the same entry; refills wait while tenants sign up; an entry whose build died
 * is dropped by the next round.
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, ident, tenantSchemaName } from '../../../lib/db.js';
import { createLogger } from '../../../lib/logger.js';
import { PROJECT_ROOT } from '../../../lib/config.js';
import { SchemaPool } from '../src/jobs/schema-pool.js';
import { TemplateRegistry } from '../src/template.registry.js';
import { startHarness, type Harness } from './support/harness.js';
import { eventually } from '../../../test/support/wait.js';

const SIZE = 2;

let h: Harness;
let owner: pg.Pool;
let pool: SchemaPool;

beforeAll(async () => {
  h = await startHarness('tenants_schema_pool', {
    TENANT_POOL_SIZE: String(SIZE),
    TENANT_POOL_REFILL_INTERVAL_MS: '50',
  });
  // The same template under another name: never pooled, so its tenants are built step by step.
  const trading = JSON.parse(
    await readFile(path.join(PROJECT_ROOT, 'schema/templates/trading.json'), 'utf8'),
  ) as Record<string, unknown>;
  await writeFile(path.join(h.templatesDir, 'built.json'), JSON.stringify({ ...trading, name: 'built' }));
  owner = createPool(h.config, h.config.DATABASE_OWNER_URL, 'schema-pool-test');
  owner.on('error', () => undefined);
  // A second handle on the same database's pool (not started: its claims race the worker's).
  pool = new SchemaPool({
    config: h.config,
    ownerPool: owner,
    templates: new TemplateRegistry(h.templatesDir),
    logger: createLogger(h.config, 'schema-pool-test'),
  });
});

afterAll(async () => {
  await owner?.end().catch(() => undefined);
  await h?.stop();
});

/** A fresh role and schema name with `prefix` (`t`: a tenant's shape, `pool`: an entry's). */
function newName(prefix: 't' | 'pool'): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
}

/** A claim on a connection of its own, through the test's handle on the pool. */
async function claimAs(template: string, target: string): Promise<boolean> {
  const c = await owner.connect();
  try {
    return await pool.claim(c, template, target);
  } finally {
    c.release();
  }
}

async function readyEntries(): Promise<string[]> {
  const r = await h.admin.query<{ name: string }>(
    'SELECT name FROM tenancy.schema_pool WHERE ready ORDER BY created_at',
  );
  return r.rows.map((x) => x.name);
}

async function waitFull(): Promise<string[]> {
  return eventually(async () => {
    const names = await readyEntries();
    return names.length === SIZE ? names : undefined;
  }, 'the pool to be full');
}

async function exists(name: string): Promise<{ role: boolean; schema: boolean }> {
  const r = await h.admin.query<{ role: boolean; schema: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS role,
            EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema`,
    [name],
  );
  return r.rows[0] as { role: boolean; schema: boolean };
}

/** A schema's catalog as plain data, with its own name replaced, so two tenants can be compared. */
async function catalogOf(schema: string): Promise<unknown> {
  const q = async (sql: string): Promise<unknown[]> =>
    (await h.admin.query<Record<string, unknown>>(sql, [schema])).rows;
  const catalog = {
    role: await q(
      'SELECT rolcanlogin, rolinherit, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = $1',
    ),
    members: await q(
      `SELECT u.rolname AS member, m.admin_option FROM pg_auth_members m
         JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = $1 ORDER BY 1`,
    ),
    memberOf: await q(
      `SELECT r.rolname AS role FROM pg_auth_members m
         JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 ORDER BY 1`,
    ),
    schema: await q(
      'SELECT pg_get_userbyid(nspowner) AS owner, nspacl::text AS acl FROM pg_namespace WHERE nspname = $1',
    ),
    defaults: await q(
      `SELECT d.defaclobjtype, pg_get_userbyid(d.defaclrole) AS owner, d.defaclacl::text AS acl
         FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace WHERE n.nspname = $1 ORDER BY 1`,
    ),
    relations: await q(
      `SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner, c.relacl::text AS acl, c.relrowsecurity
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1`,
    ),
    indexes: await q('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1'),
    constraints: await q(
      `SELECT conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
         JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 ORDER BY 1, 2`,
    ),
    migrations: (await h.admin.query(`SELECT hash FROM ${ident(schema)}."__migrations_trading" ORDER BY id`))
      .rows,
    accounts: (
      await h.admin.query(`SELECT name, currency, cash::text FROM ${ident(schema)}.accounts ORDER BY name`)
    ).rows,
  };
  return JSON.parse(JSON.stringify(catalog).replaceAll(schema, '<tenant>'));
}

async function provisioned(template: string): Promise<string> {
  const token = await h.token({ userId: randomUUID() });
  const r = await h.gql<{ provisionTenant: { id: string } }>(
    'mutation($input: ProvisionTenantInput!) { provisionTenant(input: $input) { id } }',
    { input: { organizationName: `Org ${template}`, template } },
    token,
  );
  const id = r.data?.provisionTenant.id.replace(/^provision-/, '');
  if (!id) throw new Error(JSON.stringify(r.errors));
  await eventually(async () => {
    const s = await h.admin.query<{ status: string }>('SELECT status FROM tenancy.tenants WHERE id = $1', [
      id,
    ]);
    return s.rows[0]?.status === 'ACTIVE' ? true : undefined;
  }, `tenant ${id} ACTIVE`);
  return id;
}

async function claims(): Promise<Record<string, number>> {
  const text = await (await fetch(`${h.workerUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^tenants_schema_pool_claims_total\{[^}]*result="(\w+)"[^}]*\} (\d+)/gm))
    out[m[1] as string] = Number(m[2]);
  return out;
}

describe('the schema pool', () => {
  it('builds entries ahead of sign-up: a NOLOGIN role for the app role, the tables, no tenant row', async () => {
    const names = await waitFull();
    for (const name of names) {
      expect(name).toMatch(/^pool_[0-9a-f]{16}$/);
      expect(await exists(name)).toEqual({ role: true, schema: true });
      const member = await h.admin.query('SELECT pg_has_role($1, $2, $3) AS ok', [
        h.config.DATABASE_APP_ROLE,
        name,
        'MEMBER',
      ]);
      expect(member.rows[0].ok).toBe(true);
      const tables = await h.admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'accounts'`,
        [name],
      );
      expect(tables.rows[0]?.n).toBe(1);
    }
    const tenants = await h.admin.query('SELECT 1 FROM tenancy.tenants WHERE schema_name = ANY($1)', [names]);
    expect(tenants.rowCount).toBe(0);
  });

  it('is invisible to the app role', async () => {
    await waitFull();
    const seen = await h.app.query('SELECT name FROM tenancy.schema_pool');
    expect(seen.rowCount).toBe(0);
    const deleted = await h.app.query('DELETE FROM tenancy.schema_pool');
    expect(deleted.rowCount).toBe(0);
    expect(await readyEntries()).toHaveLength(SIZE);
  });

  it('gives a new tenant a pooled schema whose catalog equals one built step by step', async () => {
    const before = await waitFull();
    const counted = await claims();
    const pooledId = await provisioned('trading');
    const pooled = tenantSchemaName(pooledId);
    // The oldest ready entry was renamed: its name is gone, the tenant's name holds its tables.
    expect(await exists(before[0] as string)).toEqual({ role: false, schema: false });
    expect(await exists(pooled)).toEqual({ role: true, schema: true });
    expect((await claims())['hit']).toBe((counted['hit'] ?? 0) + 1);

    const builtId = await provisioned('built');
    const built = tenantSchemaName(builtId);
    expect(await catalogOf(pooled)).toEqual(await catalogOf(built));
  });

  it('keeps tenants apart: neither tenant role reaches the other schema, nor does a pool role', async () => {
    const a = tenantSchemaName(await provisioned('trading'));
    const b = tenantSchemaName(await provisioned('built'));
    const [entry] = await waitFull();
    const check = await h.admin.query<{ ab: boolean; ba: boolean; pa: boolean; ap: boolean }>(
      `SELECT has_schema_privilege($1, $2, 'USAGE') AS ab, has_schema_privilege($2, $1, 'USAGE') AS ba,
              has_table_privilege($3, $4, 'SELECT') AS pa, has_schema_privilege($1, $3, 'USAGE') AS ap`,
      [a, b, entry, `${ident(a)}.accounts`],
    );
    expect(check.rows[0]).toEqual({ ab: false, ba: false, pa: false, ap: false });
  });

  it('provisions the same tenant again without change, and builds step by step when a name is taken', async () => {
    const id = await provisioned('trading');
    const schema = tenantSchemaName(id);
    const first = await catalogOf(schema);
    const ready = await waitFull();
    await h.worker.provisioner.provision(id, () => Promise.resolve());
    expect(await catalogOf(schema)).toEqual(first);
    // The claim saw the tenant's name taken and renamed nothing.
    expect(await readyEntries()).toEqual(ready);
  });

  it('never claims for a name that exists, and two claims take two entries', async () => {
    await waitFull();
    const taken = newName('t');
    await h.admin.query(`CREATE ROLE ${ident(taken)} NOLOGIN`);
    try {
      expect(await claimAs('trading', taken)).toBe(false);
      expect(await readyEntries()).toHaveLength(SIZE);
    } finally {
      await h.admin.query(`DROP ROLE ${ident(taken)}`);
    }

    const targets = [0, 1].map(() => newName('t'));
    const clients = await Promise.all(targets.map(() => owner.connect()));
    try {
      const got = await Promise.all(
        targets.map((t, i) => pool.claim(clients[i] as pg.PoolClient, 'trading', t)),
      );
      expect(got).toEqual([true, true]);
    } finally {
      for (const c of clients) c.release();
    }
    for (const t of targets) expect(await exists(t)).toEqual({ role: true, schema: true });
    // Not tenants: dropped here so the test database's cleanup has nothing unknown to meet.
    for (const t of targets) await h.admin.query(`DROP SCHEMA ${ident(t)} CASCADE; DROP ROLE ${ident(t)}`);
    expect(await claimAs('no-such-template', `t_${'0'.repeat(16)}`)).toBe(false);
  });

  it('waits for sign-ups to pause before it refills', async () => {
    await waitFull();
    const pending = await h.admin.query<{ id: string }>(
      `INSERT INTO tenancy.tenants (organization_name, template, schema_name, status)
       VALUES ('Signing up', 'trading', $1, 'PROVISIONING') RETURNING id`,
      [newName('t')],
    );
    try {
      const target = newName('t');
      expect(await claimAs('trading', target)).toBe(true);
      await h.admin.query(`DROP SCHEMA ${ident(target)} CASCADE; DROP ROLE ${ident(target)}`);
      // A tenant is provisioning somewhere: no round builds, whoever runs it.
      expect(await pool.refill()).toBe('busy');
      expect(await readyEntries()).toHaveLength(SIZE - 1);
    } finally {
      await h.admin.query('DELETE FROM tenancy.tenants WHERE id = $1', [pending.rows[0]?.id]);
    }
    await waitFull();
  });

  it('drops an entry whose build died, and never claims it', async () => {
    await waitFull();
    const name = newName('pool');
    // What a worker killed mid-build leaves: the row (not ready), the role, a half-built schema. In one
    // transaction, as a refill round runs at any moment (a real builder holds the pool's lock).
    const c0 = await h.admin.connect();
    try {
      await c0.query('BEGIN');
      await c0.query('INSERT INTO tenancy.schema_pool (name, template, created_at) VALUES ($1, $2, $3)', [
        name,
        'trading',
        new Date(0),
      ]);
      await c0.query(`CREATE ROLE ${ident(name)} NOLOGIN`);
      await c0.query(`GRANT ${ident(name)} TO ${ident(h.config.DATABASE_APP_ROLE)}`);
      await c0.query(`CREATE SCHEMA ${ident(name)} AUTHORIZATION ${ident(h.config.DATABASE_OWNER_ROLE)}`);
      await c0.query(`CREATE TABLE ${ident(name)}.half (id int PRIMARY KEY)`);
      await c0.query('COMMIT');
    } finally {
      c0.release();
    }
    // The oldest entry, but not ready: a claim takes a finished one.
    const target = newName('t');
    expect(await claimAs('trading', target)).toBe(true);
    const tables = await h.admin.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('accounts', 'half')`,
      [target],
    );
    expect(tables.rows).toEqual([{ table_name: 'accounts' }]);
    await h.admin.query(`DROP SCHEMA ${ident(target)} CASCADE; DROP ROLE ${ident(target)}`);

    await eventually(async () => {
      const left = await exists(name);
      return !left.role && !left.schema ? true : undefined;
    }, 'the unfinished entry to be dropped');
    const row = await h.admin.query('SELECT 1 FROM tenancy.schema_pool WHERE name = $1', [name]);
    expect(row.rowCount).toBe(0);
    await waitFull();
  });
});
