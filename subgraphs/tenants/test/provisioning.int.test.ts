/**
 * Provisioning with the real worker, Postgres and Redis: a tenant reaches ACTIVE with its role,
 * schema, migration record, tables and paper account; running the job again changes nothing; failing
 * steps retry, then leave the tenant FAILED with the reason; a failed tenant can be re-provisioned.
 */
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, tenantSchemaName } from '../../../lib/db.js';
import { createLogger } from '../../../lib/logger.js';
import { provisionJobId, QUEUES, TenantQueues } from '../src/jobs/queues.js';
import { TenantRepository } from '../src/tenant.repository.js';
import { TenantService } from '../src/tenant.service.js';
import { TemplateRegistry } from '../src/template.registry.js';
import {
  provisionActive,
  startHarness,
  waitForStatus,
  writeMigrations,
  writeTemplate,
  type Harness,
} from './support/harness.js';
import { eventually } from '../../../test/support/wait.js';

const PROVISION =
  'mutation($input: ProvisionTenantInput!) { provisionTenant(input: $input) { id kind state progress } }';
const JOB = 'query($id: ID!) { job(id: $id) { id kind state progress error result } }';

let h: Harness;
let queue: Queue;

beforeAll(async () => {
  h = await startHarness('tenants_provisioning', { JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '20' });
  queue = h.queue(QUEUES.provisioning);
});

afterAll(async () => {
  await h?.stop();
});

/** Everything provisioning touches for one tenant, as plain data, to compare two runs. */
async function snapshot(db: pg.Pool, tenantId: string): Promise<unknown> {
  const schema = tenantSchemaName(tenantId);
  const q = async (sql: string, params: unknown[] = [schema]): Promise<unknown[]> =>
    (await db.query<Record<string, unknown>>(sql, params)).rows;
  return {
    role: await q(
      'SELECT rolname, rolcanlogin, rolinherit, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = $1',
    ),
    members: await q(
      `SELECT r.rolname AS role, u.rolname AS member, m.admin_option FROM pg_auth_members m
         JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = $1 ORDER BY 2`,
    ),
    schema: await q(
      'SELECT nspname, pg_get_userbyid(nspowner) AS owner, nspacl::text FROM pg_namespace WHERE nspname = $1',
    ),
    defaults: await q(
      `SELECT d.defaclobjtype, d.defaclacl::text FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
        WHERE n.nspname = $1 ORDER BY 1`,
    ),
    relations: await q(
      `SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner, c.relacl::text FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1`,
    ),
    records: (
      await db.query(`SELECT id, hash, created_at FROM "${schema}"."__migrations_trading" ORDER BY id`)
    ).rows,
    accounts: (await db.query(`SELECT * FROM "${schema}".accounts ORDER BY id`)).rows,
    ledger: (await db.query(`SELECT * FROM "${schema}".cash_ledger ORDER BY id`)).rows,
    tenant: await q('SELECT * FROM tenancy.tenants WHERE id = $1', [tenantId]),
    memberships: await q('SELECT * FROM tenancy.memberships WHERE tenant_id = $1 ORDER BY user_id', [
      tenantId,
    ]),
  };
}

describe('provisioning a tenant', () => {
  const owner = randomUUID();
  let tenantId: string;

  beforeAll(async () => {
    tenantId = await provisionActive(h, owner, 'Acme Capital');
  });

  it('creates a NOLOGIN role granted to the app role, and a schema only that role can use', async () => {
    const schema = tenantSchemaName(tenantId);
    const role = await h.admin.query(
      'SELECT rolcanlogin, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1',
      [schema],
    );
    expect(role.rows).toEqual([{ rolcanlogin: false, rolsuper: false, rolbypassrls: false }]);
    const member = await h.admin.query('SELECT pg_has_role($1, $2, $3) AS ok', [
      h.config.DATABASE_APP_ROLE,
      schema,
      'MEMBER',
    ]);
    expect(member.rows[0].ok).toBe(true);
    const ns = await h.admin.query(
      `SELECT pg_get_userbyid(nspowner) AS owner,
              has_schema_privilege($2, nspname, 'USAGE') AS tenant_usage,
              has_schema_privilege($2, nspname, 'CREATE') AS tenant_create,
              has_schema_privilege('public', nspname, 'USAGE') AS public_usage
         FROM pg_namespace WHERE nspname = $1`,
      [schema, schema],
    );
    expect(ns.rows).toEqual([
      { owner: h.config.DATABASE_OWNER_ROLE, tenant_usage: true, tenant_create: false, public_usage: false },
    ]);
  });

  it('applies the template migrations with a record in the tenant schema', async () => {
    const schema = tenantSchemaName(tenantId);
    const records = await h.admin.query(`SELECT count(*)::int AS n FROM "${schema}"."__migrations_trading"`);
    expect(records.rows[0].n).toBeGreaterThanOrEqual(1);
    const tables = await h.admin.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`,
      [schema],
    );
    expect(tables.rows.map((r: { table_name: string }) => r.table_name)).toEqual(
      expect.arrayContaining(['__migrations_trading', 'accounts', 'cash_ledger']),
    );
    // The tenant role may read its migration history but never rewrite it.
    const priv = await h.admin.query(
      `SELECT has_table_privilege($1, $2, 'SELECT') AS sel, has_table_privilege($1, $2, 'INSERT') AS ins,
              has_table_privilege($1, $3, 'INSERT') AS acct_ins`,
      [schema, `${schema}.__migrations_trading`, `${schema}.accounts`],
    );
    expect(priv.rows[0]).toEqual({ sel: true, ins: false, acct_ins: true });
  });

  it('seeds one paper account with the starting cash and an opening deposit', async () => {
    const schema = tenantSchemaName(tenantId);
    const accounts = await h.admin.query(`SELECT id, name, currency, cash::text FROM "${schema}".accounts`);
    expect(accounts.rows).toHaveLength(1);
    expect(accounts.rows[0]).toMatchObject({ currency: 'USD', cash: '100000.0000' });
    const ledger = await h.admin.query(`SELECT account_id, kind, amount::text FROM "${schema}".cash_ledger`);
    expect(ledger.rows).toEqual([
      { account_id: accounts.rows[0].id, kind: 'deposit', amount: '100000.0000' },
    ]);
  });

  it('marks the tenant ACTIVE and reports a completed job', async () => {
    const row = await h.admin.query(
      'SELECT status, provisioned_at, last_error FROM tenancy.tenants WHERE id = $1',
      [tenantId],
    );
    expect(row.rows[0].status).toBe('ACTIVE');
    expect(row.rows[0].provisioned_at).toBeInstanceOf(Date);
    expect(row.rows[0].last_error).toBeNull();
    const r = await h.gql<{ job: Record<string, unknown> }>(
      JOB,
      { id: provisionJobId(tenantId) },
      await h.token({ userId: owner }),
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.job).toMatchObject({ kind: 'provision', state: 'completed', progress: 100, error: null });
    expect(r.data!.job['result']).toMatchObject({
      tenantId,
      status: 'ACTIVE',
      schemaName: tenantSchemaName(tenantId),
    });
  });

  it('changes nothing when the processor runs again', async () => {
    const before = await snapshot(h.admin, tenantId);
    const progress: number[] = [];
    const result = await h.worker.provisioner.process({
      data: { tenantId },
      attemptsMade: 0,
      opts: { attempts: 1 },
      updateProgress: (p) => {
        progress.push(p as number);
        return Promise.resolve();
      },
    });
    expect(result.status).toBe('ACTIVE');
    expect(progress).toEqual([20, 40, 70, 90, 100]);
    expect(await snapshot(h.admin, tenantId)).toEqual(before);
  });

  it('changes nothing when the job is added to the queue again', async () => {
    const before = await snapshot(h.admin, tenantId);
    // Adding the same job id while the old job is kept is a no-op (idempotent id) ...
    const again = await queue.add('provision', { tenantId }, { jobId: provisionJobId(tenantId) });
    expect(await again.getState()).toBe('completed');
    // ... so remove it and add it for real: the worker runs every step once more.
    await again.remove();
    const job = await queue.add('provision', { tenantId }, { jobId: provisionJobId(tenantId) });
    await eventually(
      async () => ((await job.getState()) === 'completed' ? true : undefined),
      'second run completed',
    );
    expect(await snapshot(h.admin, tenantId)).toEqual(before);
  });
});

describe('a failing provisioning', () => {
  it('retries a failing step, then marks the tenant FAILED with the error and nothing half-built', async () => {
    const folder = path.join(h.env.tmpDir, 'broken-migrations');
    // The first statement is fine, the second is not: the migrator's transaction must undo both.
    await writeMigrations(folder, [
      [
        '0000_broken',
        'CREATE TABLE "accounts" ("id" uuid PRIMARY KEY);\n--> statement-breakpoint\nCREATE TABLE oops (;',
      ],
    ]);
    await writeTemplate(h.templatesDir, 'broken', folder);
    const owner = randomUUID();
    const token = await h.token({ userId: owner });
    const r = await h.gql<{ provisionTenant: { id: string } }>(
      PROVISION,
      { input: { organizationName: 'Broken Ltd', template: 'broken' } },
      token,
    );
    expect(r.errors).toBeUndefined();
    const jobId = r.data!.provisionTenant.id;
    const tenantId = jobId.replace(/^provision-/, '');

    await waitForStatus(h, tenantId, 'FAILED');
    const row = await h.admin.query(
      'SELECT status, last_error, provisioned_at FROM tenancy.tenants WHERE id = $1',
      [tenantId],
    );
    expect(row.rows[0].last_error).toMatch(/provisioning step "migrations" failed.*\(42601\)/s);
    expect(row.rows[0].provisioned_at).toBeNull();

    const job = await queue.getJob(jobId);
    await eventually(async () => ((await job!.getState()) === 'failed' ? true : undefined), 'job failed');
    const failed = await queue.getJob(jobId);
    expect(failed!.attemptsMade).toBe(3);

    const schema = tenantSchemaName(tenantId);
    const tables = await h.admin.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name NOT LIKE '\\_\\_%'`,
      [schema],
    );
    expect(tables.rows).toEqual([]);

    // The API shows a safe message, never SQL.
    const view = await h.gql<{ job: { state: string; error: string } }>(JOB, { id: jobId }, token);
    expect(view.data!.job).toMatchObject({ state: 'failed', error: 'provisioning step "migrations" failed' });

    // Fixed template, same tenant id: re-queued and provisioned.
    await writeMigrations(folder, [
      [
        '0000_fixed',
        'CREATE TABLE "accounts" ("id" uuid PRIMARY KEY DEFAULT gen_random_uuid(), "name" text NOT NULL, "currency" char(3) NOT NULL DEFAULT \'USD\', "cash" numeric(20,4) NOT NULL);\n--> statement-breakpoint\nCREATE TABLE "cash_ledger" ("id" bigserial PRIMARY KEY, "account_id" uuid NOT NULL REFERENCES "accounts"("id"), "kind" text NOT NULL, "amount" numeric(20,4) NOT NULL);',
      ],
    ]);
    const retry = await h.gql<{ provisionTenant: { id: string; state: string } }>(
      PROVISION,
      { input: { tenantId, organizationName: 'Broken Ltd', template: 'broken' } },
      token,
    );
    expect(retry.errors).toBeUndefined();
    expect(retry.data!.provisionTenant.id).toBe(jobId);
    await waitForStatus(h, tenantId, 'ACTIVE');
    const after = await h.admin.query('SELECT last_error FROM tenancy.tenants WHERE id = $1', [tenantId]);
    expect(after.rows[0].last_error).toBeNull();
  });

  it('fails at once, without retries, when the template vanished (a permanent fault)', async () => {
    const folder = path.join(h.env.tmpDir, 'vanishing-migrations');
    await writeMigrations(folder, [['0000_ok', 'CREATE TABLE "accounts" ("id" uuid PRIMARY KEY)']]);
    await writeTemplate(h.templatesDir, 'vanishing', folder);
    const owner = randomUUID();
    // Created directly (no job yet), so the template can vanish before the worker sees the tenant.
    const repo = new TenantRepository(h.app);
    const tenantId = randomUUID();
    await repo.createWithOwner(
      {
        id: tenantId,
        organizationName: 'Gone Inc',
        template: 'vanishing',
        schemaName: tenantSchemaName(tenantId),
      },
      owner,
    );
    await rm(path.join(h.templatesDir, 'vanishing.json'));
    const job = await queue.add('provision', { tenantId }, { jobId: provisionJobId(tenantId), attempts: 3 });
    await waitForStatus(h, tenantId, 'FAILED');
    await eventually(async () => ((await job.getState()) === 'failed' ? true : undefined), 'job failed');
    expect((await queue.getJob(job.id!))!.attemptsMade).toBe(1);
    const row = await h.admin.query('SELECT last_error FROM tenancy.tenants WHERE id = $1', [tenantId]);
    expect(row.rows[0].last_error).toMatch(/unknown template/);
  });

  it('marks the tenant FAILED when its job cannot be queued (nothing left waiting silently)', async () => {
    // A real Redis client pointed at a port where nothing listens: every command fails.
    const dead = new Redis('redis://127.0.0.1:1', {
      maxRetriesPerRequest: 1,
      retryStrategy: () => 50,
      lazyConnect: true,
    });
    dead.on('error', () => undefined);
    const pool = createPool(h.config, h.config.DATABASE_URL, 'test');
    const queues = new TenantQueues(h.config, dead, () => undefined);
    const repo = new TenantRepository(pool);
    const service = new TenantService(
      h.config,
      repo,
      new TemplateRegistry(h.templatesDir),
      queues,
      createLogger(h.config, 'test'),
    );
    const owner = randomUUID();
    try {
      await expect(
        service.provision(
          {
            userId: owner,
            sessionId: 's',
            tenantId: randomUUID(),
            role: 'OWNER',
            platformAdmin: false,
            email: '',
            expiresAt: 0,
          },
          { organizationName: 'Unqueued LLC' },
          undefined,
        ),
      ).rejects.toThrow();
      const rows = await h.admin.query(
        `SELECT t.status, t.last_error FROM tenancy.tenants t JOIN tenancy.memberships m ON m.tenant_id = t.id WHERE m.user_id = $1`,
        [owner],
      );
      expect(rows.rows).toHaveLength(1);
      expect(rows.rows[0].status).toBe('FAILED');
      expect(rows.rows[0].last_error).toMatch(/could not queue provisioning/);
    } finally {
      await queues.close().catch(() => undefined);
      dead.disconnect();
      await pool.end();
    }
  });

  it('refuses a template whose file is invalid, and never shows an unprovisioned tenant as ACTIVE', async () => {
    const active = await h.admin.query(
      `SELECT count(*)::int AS n FROM tenancy.tenants WHERE status = 'ACTIVE' AND provisioned_at IS NULL`,
    );
    expect(active.rows[0].n).toBe(0);
    await writeFile(path.join(h.templatesDir, 'invalid.json'), '{"name": "invalid"}');
    const r = await h.gql(
      PROVISION,
      { input: { organizationName: 'X', template: 'invalid' } },
      await h.token({ userId: randomUUID() }),
    );
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
