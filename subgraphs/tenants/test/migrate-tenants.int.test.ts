/**
 * migrate-tenants: a migration added to a template after its tenants were provisioned reaches every
 * ACTIVE tenant schema (three here, in batches of two), through the `tenant-migrations` queue and
 * directly, and running it again changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../lib/config.js';
import { tenantSchemaName, withTenant } from '../../../lib/db.js';
import { createLogger } from '../../../lib/logger.js';
import { runMigrateTenants } from '../src/jobs/migrate-tenants.job.js';
import { TenantQueues } from '../src/jobs/queues.js';
import { createRedis } from '../../../lib/redis.js';
import { provisionActive, startHarness, writeTemplate, type Harness } from './support/harness.js';
import { finishedJob } from '../../../test/support/wait.js';

let h: Harness;
let folder: string;
const tenants: string[] = [];

beforeAll(async () => {
  h = await startHarness('tenants_migrate', { TENANT_MIGRATION_BATCH_SIZE: '2' });
  // A copy of the trading template's migrations that this test can extend.
  folder = path.join(h.env.tmpDir, 'trading-tenant');
  await cp(path.join(PROJECT_ROOT, 'subgraphs/trading/migrations/tenant'), folder, { recursive: true });
  await writeTemplate(h.templatesDir, 'trading', folder);
  for (const name of ['One', 'Two', 'Three'])
    tenants.push(await provisionActive(h, randomUUID(), `Fund ${name}`));
});

afterAll(async () => {
  await h?.stop();
});

async function addMigration(tag: string, sql: string): Promise<void> {
  const journalPath = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(await readFile(journalPath, 'utf8')) as {
    entries: { idx: number; when: number }[];
  };
  const last = journal.entries[journal.entries.length - 1]!;
  journal.entries.push({ ...last, idx: last.idx + 1, when: last.when + 1000, tag } as never);
  await writeFile(journalPath, JSON.stringify(journal));
  await writeFile(path.join(folder, `${tag}.sql`), sql);
}

/** Migrations in the (copied) trading folder, so expectations follow the template as it grows. */
async function journalLength(): Promise<number> {
  const journal = JSON.parse(await readFile(path.join(folder, 'meta', '_journal.json'), 'utf8')) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

async function columns(tenantId: string, table: string): Promise<string[]> {
  const r = await h.admin.query<{ column_name: string }>(
    'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
    [tenantSchemaName(tenantId), table],
  );
  return r.rows.map((x) => x.column_name);
}

describe('migrate-tenants', () => {
  it('applies a new template migration to every tenant schema through the tenant-migrations queue', async () => {
    await addMigration(
      '0001_watchlists',
      'CREATE TABLE "watchlists" ("id" bigserial PRIMARY KEY, "symbol" text NOT NULL);\n--> statement-breakpoint\nALTER TABLE "accounts" ADD COLUMN "nickname" text;',
    );
    for (const t of tenants) expect(await columns(t, 'watchlists')).toEqual([]);

    const redis = createRedis(h.config, 'commands');
    const queues = new TenantQueues(h.config, redis, () => undefined);
    try {
      const job = await queues.enqueueMigrations();
      const done = await finishedJob(queues.migrations, job.id ?? '', 'completed', 'migrate-tenants job');
      expect(done.returnvalue).toEqual({ tenants: 3, migrated: 3, failed: [] });
    } finally {
      await queues.close();
      redis.disconnect();
    }

    for (const t of tenants) {
      expect(await columns(t, 'watchlists')).toEqual(['id', 'symbol']);
      expect(await columns(t, 'accounts')).toContain('nickname');
      const records = await h.admin.query(
        `SELECT count(*)::int AS n FROM ${tenantSchemaName(t)}.__migrations_trading`,
      );
      expect(records.rows[0].n).toBe(await journalLength());
      // The new table (and its sequence) is usable from the tenant's own scope.
      const inserted = await withTenant(
        h.app,
        { tenantId: t, schemaName: tenantSchemaName(t) },
        async (_tx, c) =>
          (
            await c.query<{ symbol: string }>(
              `INSERT INTO watchlists (symbol) VALUES ('AAPL') RETURNING symbol`,
            )
          ).rows,
      );
      expect(inserted).toEqual([{ symbol: 'AAPL' }]);
    }
  });

  it('reports the tenants healthy again and changes nothing on a second run', async () => {
    const token = await h.token({ userId: randomUUID(), platformAdmin: true });
    const health = await h.gql<{
      tenant: { health: { status: string; migrationsApplied: number; migrationsExpected: number } };
    }>(
      'query($id: ID!) { tenant(id: $id) { health { status migrationsApplied migrationsExpected } } }',
      { id: tenants[0] },
      token,
    );
    const { status, migrationsApplied, migrationsExpected } = health.data!.tenant.health;
    expect(status).toBe('OK');
    expect(migrationsApplied).toBe(migrationsExpected);
    expect(migrationsApplied).toBeGreaterThanOrEqual(await journalLength());

    const before = await h.admin.query(
      `SELECT * FROM ${tenantSchemaName(tenants[1]!)}.__migrations_trading ORDER BY id`,
    );
    const result = await runMigrateTenants(h.config, createLogger(h.config, 'test'));
    expect(result).toEqual({ tenants: 3, migrated: 3, failed: [] });
    const after = await h.admin.query(
      `SELECT * FROM ${tenantSchemaName(tenants[1]!)}.__migrations_trading ORDER BY id`,
    );
    expect(after.rows).toEqual(before.rows);
  });

  it('reports a tenant whose migration fails and still migrates the others', async () => {
    // Pending work that breaks on one tenant only: its table already holds a conflicting object.
    const victim = tenants[2]!;
    await h.admin.query(`CREATE TABLE ${tenantSchemaName(victim)}.alerts (id int)`);
    await addMigration(
      '0002_alerts',
      'CREATE TABLE "alerts" ("id" bigserial PRIMARY KEY, "rule" text NOT NULL);',
    );
    const result = await runMigrateTenants(h.config, createLogger(h.config, 'test'));
    expect(result.tenants).toBe(3);
    expect(result.migrated).toBe(2);
    expect(result.failed.map((f) => f.tenantId)).toEqual([victim]);
    expect(result.failed[0]!.error).toMatch(/already exists/);
    for (const t of tenants.slice(0, 2)) expect(await columns(t, 'alerts')).toEqual(['id', 'rule']);
  });
});
