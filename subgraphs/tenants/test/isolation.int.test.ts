/**
 * Tenant isolation in the database: tenant roles reach only their own schema, row-level security hides
 * every tenancy row from a connection without a scope, and each scope sees exactly its rows.
 */
import { randomUUID } from 'node:crypto';
import { asc, desc, eq } from 'drizzle-orm';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  sqlLiteral,
  tenantSchemaName,
  withPlatform,
  withTenant,
  withTenantRoundTrips,
} from '../../../lib/db.js';
import { memberships, tenants } from '../src/db/schema.js';
import { TenantRepository } from '../src/tenant.repository.js';
import { provisionActive, startHarness, type Harness } from './support/harness.js';

let h: Harness;
const alice = randomUUID();
const bob = randomUUID();
let tenantA: string;
let tenantB: string;

beforeAll(async () => {
  h = await startHarness('tenants_isolation');
  [tenantA, tenantB] = await Promise.all([
    provisionActive(h, alice, 'Alpha Fund'),
    provisionActive(h, bob, 'Beta Fund'),
  ]);
  // One backup row per tenant, so the backups policy has something to hide.
  await h.admin.query(
    `INSERT INTO tenancy.backups (tenant_id, type, status) VALUES ($1, 'MANUAL', 'VERIFIED'), ($2, 'MANUAL', 'VERIFIED')`,
    [tenantA, tenantB],
  );
});

afterAll(async () => {
  await h?.stop();
});

const scopeA = (): { tenantId: string; schemaName: string; userId: string } => ({
  tenantId: tenantA,
  schemaName: tenantSchemaName(tenantA),
  userId: alice,
});

function pgCode(err: unknown): unknown {
  return (err as { code?: unknown }).code;
}

describe('tenant schemas', () => {
  it("reads the tenant's own tables inside withTenant, unqualified", async () => {
    const rows = await withTenant(
      h.app,
      scopeA(),
      async (_tx, c) => (await c.query<{ cash: string }>('SELECT cash::text FROM accounts')).rows,
    );
    expect(rows).toEqual([{ cash: '100000.0000' }]);
  });

  it("fails with a permission error on another tenant's tables, even with hand-written SQL", async () => {
    expect.assertions(2);
    const other = tenantSchemaName(tenantB);
    await withTenant(h.app, scopeA(), async (_tx, c) => {
      await c.query(`SELECT * FROM ${other}.accounts`);
    }).catch((err: unknown) => {
      expect(pgCode(err)).toBe('42501');
      expect(String((err as Error).message)).toMatch(/permission denied for schema/);
    });
  });

  // So no tenant query can join across schemas, which keeps each tenant schema movable on its own
  // (Citus schema-based sharding, docs/adr/0003).
  it('cannot reach the platform tables or create objects anywhere', async () => {
    for (const sql of [
      'SELECT * FROM tenancy.tenants',
      'SELECT * FROM tenancy.memberships',
      'SELECT * FROM auth.users',
      'SELECT * FROM market.instruments',
      'SELECT * FROM trading.order_book_tenants',
      'CREATE TABLE sneaky (id int)',
      `CREATE TABLE ${tenantSchemaName(tenantB)}.sneaky (id int)`,
    ]) {
      const err = await withTenant(h.app, scopeA(), async (_tx, c) => {
        await c.query(sql);
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(pgCode(err), sql).toBe('42501');
    }
  });

  it('gives the app role nothing of a tenant schema outside withTenant (it is NOINHERIT)', async () => {
    const err = await h.app.query(`SELECT * FROM ${tenantSchemaName(tenantA)}.accounts`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(pgCode(err)).toBe('42501');
  });

  it('ends the tenant scope with the transaction (no role or search_path left on the pooled connection)', async () => {
    const client: pg.PoolClient = await h.app.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL ROLE ${tenantSchemaName(tenantA)}`);
      await client.query('COMMIT');
      const r = await client.query('SELECT current_user AS u');
      expect(r.rows[0].u).toBe(h.config.DATABASE_APP_ROLE);
    } finally {
      client.release();
    }
  });
});

describe('tenant transactions in two round trips (withTenantRoundTrips)', () => {
  const cash = async (): Promise<string> =>
    (await h.admin.query<{ cash: string }>(`SELECT cash::text FROM ${tenantSchemaName(tenantA)}.accounts`))
      .rows[0]?.cash ?? '';

  it("runs the first statement in the tenant's scope and commits the last with it", async () => {
    const before = await cash();
    const scoped = await withTenantRoundTrips(
      h.app,
      scopeA(),
      `SELECT current_user AS u, current_setting('app.tenant_id') AS t, (SELECT count(*)::int FROM accounts) AS n`,
      ({ first }) =>
        Promise.resolve({
          value: first[0],
          last: `UPDATE accounts SET cash = cash + ${sqlLiteral('1.5')}::numeric`,
        }),
    );
    expect(scoped).toEqual({ u: tenantSchemaName(tenantA), t: tenantA, n: 1 });
    expect(Number(await cash())).toBe(Number(before) + 1.5);
    await h.admin.query(`UPDATE ${tenantSchemaName(tenantA)}.accounts SET cash = cash - 1.5`);
  });

  it('keeps nothing when the last statement fails: the COMMIT sent with it does not run', async () => {
    const before = await cash();
    const err = await withTenantRoundTrips(h.app, scopeA(), 'SELECT 1 AS one', async ({ client }) => {
      await client.query('UPDATE accounts SET cash = cash + 7');
      // Quoted text stays text: this literal would end the statement if it were pasted in raw.
      return { value: 1, last: `SELECT ${sqlLiteral("x'); COMMIT; SELECT ('")}::int` };
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(pgCode(err)).toBe('22P02');
    expect(await cash()).toBe(before);
  });

  it("cannot reach another tenant's tables from either statement", async () => {
    const other = tenantSchemaName(tenantB);
    const first = await withTenantRoundTrips(h.app, scopeA(), `SELECT * FROM ${other}.accounts`, () =>
      Promise.resolve({ value: 1 }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(pgCode(first)).toBe('42501');
    const last = await withTenantRoundTrips(h.app, scopeA(), 'SELECT 1', () =>
      Promise.resolve({ value: 1, last: `UPDATE ${other}.accounts SET cash = 0` }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(pgCode(last)).toBe('42501');
  });
});

describe('row-level security on tenancy tables', () => {
  it('shows no row at all to the app role without a scope', async () => {
    for (const table of ['tenants', 'memberships', 'backups']) {
      const r = await h.app.query(`SELECT count(*)::int AS n FROM tenancy.${table}`);
      expect(r.rows[0].n, table).toBe(0);
    }
    const all = await h.admin.query('SELECT count(*)::int AS n FROM tenancy.tenants');
    expect(all.rows[0].n).toBeGreaterThanOrEqual(2);
  });

  it('shows a user scope only its own memberships, tenants and backups', async () => {
    const seen = await withPlatform(h.app, { kind: 'user', userId: alice }, async (_tx, c) => ({
      memberships: (await c.query('SELECT tenant_id, user_id, role FROM tenancy.memberships')).rows,
      tenants: (await c.query('SELECT id FROM tenancy.tenants')).rows,
      backups: (await c.query('SELECT tenant_id FROM tenancy.backups')).rows,
    }));
    expect(seen.memberships).toEqual([{ tenant_id: tenantA, user_id: alice, role: 'OWNER' }]);
    expect(seen.tenants).toEqual([{ id: tenantA }]);
    expect(seen.backups).toEqual([{ tenant_id: tenantA }]);
  });

  it("shows a tenant scope only its tenant's rows, and refuses writes into another tenant", async () => {
    const seen = await withPlatform(h.app, { kind: 'tenant', tenantId: tenantB }, async (_tx, c) => ({
      tenants: (await c.query('SELECT id FROM tenancy.tenants')).rows,
      memberships: (await c.query('SELECT user_id FROM tenancy.memberships')).rows,
    }));
    expect(seen).toEqual({ tenants: [{ id: tenantB }], memberships: [{ user_id: bob }] });

    const err = await withPlatform(h.app, { kind: 'tenant', tenantId: tenantB }, async (_tx, c) => {
      await c.query(`INSERT INTO tenancy.memberships (tenant_id, user_id, role) VALUES ($1, $2, 'ADMIN')`, [
        tenantA,
        bob,
      ]);
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(pgCode(err)).toBe('42501');
    const updated = await withPlatform(h.app, { kind: 'tenant', tenantId: tenantB }, async (_tx, c) =>
      c.query(`UPDATE tenancy.tenants SET organization_name = 'hijacked' WHERE id = $1`, [tenantA]),
    );
    expect(updated.rowCount).toBe(0);
  });

  it('shows the system scope every tenant', async () => {
    const ids = await withPlatform(h.app, { kind: 'system' }, async (_tx, c) =>
      (await c.query<{ id: string }>('SELECT id FROM tenancy.tenants')).rows.map((r) => r.id),
    );
    expect(ids).toEqual(expect.arrayContaining([tenantA, tenantB]));
  });

  it('keeps the policies forced and the app role unable to bypass them', async () => {
    const tables = await h.admin.query(
      `SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'tenancy' AND relname IN ('tenants', 'memberships', 'backups') ORDER BY 1`,
    );
    expect(tables.rows).toEqual([
      { relname: 'backups', relrowsecurity: true, relforcerowsecurity: true },
      { relname: 'memberships', relrowsecurity: true, relforcerowsecurity: true },
      { relname: 'tenants', relrowsecurity: true, relforcerowsecurity: true },
    ]);
    const role = await h.admin.query(
      'SELECT rolbypassrls, rolsuper, rolinherit FROM pg_roles WHERE rolname = $1',
      [h.config.DATABASE_APP_ROLE],
    );
    expect(role.rows[0]).toEqual({ rolbypassrls: false, rolsuper: false, rolinherit: false });
    const owned = await h.admin.query(
      `SELECT count(*)::int AS n FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
      [h.config.DATABASE_APP_ROLE],
    );
    expect(owned.rows[0].n).toBe(0);
  });
});

describe('the membership read (tenancy.memberships_of, planned once per connection)', () => {
  const rowsOf = async (scope: Parameters<typeof withPlatform>[1], userId: string): Promise<unknown[]> =>
    withPlatform(
      h.app,
      scope,
      async (_tx, c) => (await c.query<object>('SELECT * FROM tenancy.memberships_of($1)', [userId])).rows,
    );

  it('answers what the join it replaces answers, column for column, decoded the same way', async () => {
    const carol = randomUUID();
    await h.admin.query(
      `INSERT INTO tenancy.memberships (tenant_id, user_id, role, created_at)
       VALUES ($1, $3, 'VIEWER', now() - interval '1 day'), ($2, $3, 'TRADER', now())`,
      [tenantA, tenantB, carol],
    );
    const join = (order: 'joined' | 'created') =>
      withPlatform(h.app, { kind: 'user', userId: carol }, (tx) =>
        tx
          .select({ tenant: tenants, membership: memberships })
          .from(memberships)
          .innerJoin(tenants, eq(tenants.id, memberships.tenantId))
          .where(eq(memberships.userId, carol))
          .orderBy(
            ...(order === 'joined'
              ? [desc(memberships.createdAt), asc(tenants.id)]
              : [asc(tenants.createdAt), asc(tenants.id)]),
          ),
      );
    const joined = await join('joined');
    expect(joined.map((r) => r.tenant.id)).toEqual([tenantB, tenantA]);
    const read = await new TenantRepository(h.app).membershipsOf(carol);
    expect(read).toEqual(joined);
    expect(read[0]?.tenant.createdAt).toBeInstanceOf(Date);

    // The same function behind `tenants` (oldest tenant first) and `tenant(id)` for members.
    const repo = new TenantRepository(h.app);
    // (In PostgreSQL's order: the tenants' creation times may differ below the millisecond only.)
    const byCreation = await join('created');
    expect(await repo.listForUser(carol)).toEqual(byCreation.map((r) => r.tenant));
    for (const row of joined) expect(await repo.findForMember(carol, row.tenant.id)).toEqual(row);
    expect(await repo.findForMember(alice, tenantB)).toBeUndefined();
    expect(await repo.findForMember(carol, randomUUID())).toBeUndefined();
  });

  it("runs under the caller's policies: another user's id answers nothing, the system scope everything", async () => {
    expect(await rowsOf({ kind: 'user', userId: alice }, bob)).toEqual([]);
    expect(await rowsOf({ kind: 'tenant', tenantId: tenantA }, bob)).toEqual([]);
    const unscoped = await h.app.query('SELECT * FROM tenancy.memberships_of($1)', [alice]);
    expect(unscoped.rows).toEqual([]);
    expect(await rowsOf({ kind: 'system' }, bob)).toHaveLength(1);
    expect(await rowsOf({ kind: 'user', userId: alice }, alice)).toHaveLength(1);
    const inTenant = async (userId: string, tenantId: string): Promise<unknown[]> =>
      withPlatform(
        h.app,
        { kind: 'user', userId },
        async (_tx, c) =>
          (await c.query<object>('SELECT * FROM tenancy.memberships_of($1, $2)', [userId, tenantId])).rows,
      );
    expect(await inTenant(alice, tenantA)).toHaveLength(1);
    expect(await inTenant(alice, tenantB)).toEqual([]);
  });

  it('is SECURITY INVOKER and executable by the app role only', async () => {
    const fn = await h.admin.query<{ definer: boolean; app: boolean; owner: boolean; public: boolean }>(
      `SELECT p.prosecdef AS definer,
              has_function_privilege($1, p.oid, 'EXECUTE') AS app,
              has_function_privilege(p.proowner, p.oid, 'EXECUTE') AS owner,
              coalesce(aclcontains(p.proacl, makeaclitem(0, p.proowner, 'EXECUTE', false)), true) AS public
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'tenancy' AND p.proname = 'memberships_of'`,
      [h.config.DATABASE_APP_ROLE],
    );
    expect(fn.rows).toEqual([{ definer: false, app: true, owner: true, public: false }]);
  });
});
