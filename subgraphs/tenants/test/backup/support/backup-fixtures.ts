/**
 * Fixtures of the backup tests: a test namespace with a real OpenSSH server as the MA130, tenants
 * provisioned by the real provisioning code (the `trading` template) and filled with awkward data in
 * every template table, schema dumps to compare, and a TCP proxy that can cut or stall the SSH
 * connection mid-transfer.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import type { TenantsConfig } from '../../../src/config.js';
import { createPool } from '../../../../../lib/db.js';
import { adminUrlOf, createTestEnv, createTestPool, type TestEnv } from '../../../../../test/support/env.js';
import { startTestSshd, type TestSshd } from '../../../../../test/support/sshd.js';
import { createTestProvisioner, type TestProvisioner } from '../../../../../test/support/tenants.js';
import { BackupKeyring, parseBackupKeys } from '../../../src/backup/backup-crypto.js';
import { backupSettings, type BackupSettings } from '../../../src/backup/backup.pipeline.js';
import type { Provisioner } from '../../../src/jobs/provision.job.js';
import type { TenantRepository } from '../../../src/tenant.repository.js';

const execFileAsync = promisify(execFile);

export interface BackupTestContext {
  env: TestEnv;
  sshd: TestSshd;
  settings: BackupSettings;
  keyring: BackupKeyring;
  ownerPool: pg.Pool;
  appPool: pg.Pool;
  /** Superuser pool on the test database. */
  admin: pg.Pool;
  repo: TenantRepository;
  provisioner: Provisioner;
  /** Creates and provisions tenants with the real provisioning code. */
  provisioning: TestProvisioner;
  /** Superuser URL of the test database. */
  adminUrl: string;
  cleanup(): Promise<void>;
}

/**
 * The environment that reproduces a configuration (for a child process, or a variant of a test's
 * configuration through loadTenantsConfig).
 */
export function envOf(
  config: TenantsConfig,
  overrides: Record<string, string | undefined> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(k) || v === undefined) continue;
    if (Array.isArray(v)) env[k] = v.join(',');
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') env[k] = String(v);
  }
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** A fresh 32-byte key as `id:base64`. */
export const newKeyEntry = (id: string): string => `${id}:${randomBytes(32).toString('base64')}`;

/** Starts sshd (in its own temp folder) and a test namespace pointed at it. */
export async function startBackupContext(
  name: string,
  overrides: Record<string, string> = {},
): Promise<BackupTestContext> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `tradesage-ma130-${name}-`));
  const sshd = await startTestSshd(dir);
  let env: TestEnv;
  try {
    env = await createTestEnv(name, {
      ...sshd.env,
      BACKUP_ENCRYPTION_KEYS: `${newKeyEntry('old-key')},${newKeyEntry('test-key')}`,
      BACKUP_GZIP_LEVEL: '6',
      BACKUP_TMP_DIR: dir,
      ...overrides,
    });
  } catch (err) {
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const config = env.config;
  const ownerPool = createPool(config, config.DATABASE_OWNER_URL, 'backup-test-owner');
  const appPool = createPool(config, config.DATABASE_URL, 'backup-test-app');
  const adminUrl = adminUrlOf(config);
  const admin = createTestPool(adminUrl, 3);
  const provisioning = createTestProvisioner(config, { ownerPool, appPool }, 'backup-test');
  const { repo, provisioner } = provisioning;
  return {
    env,
    sshd,
    settings: backupSettings(config),
    keyring: new BackupKeyring(parseBackupKeys(config.BACKUP_ENCRYPTION_KEYS ?? '')),
    ownerPool,
    appPool,
    admin,
    repo,
    provisioner,
    provisioning,
    adminUrl,
    async cleanup() {
      await Promise.all([ownerPool.end(), appPool.end(), admin.end()].map((p) => p.catch(() => undefined)));
      await sshd.stop().catch(() => undefined);
      await env.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Creates and provisions a tenant with the real provisioning code; returns its id and schema. */
export async function provisionTenant(
  ctx: BackupTestContext,
  tenantId: string = randomUUID(),
): Promise<{ tenantId: string; schema: string }> {
  const { schemaName } = await ctx.provisioning.provision({
    tenantId,
    organizationName: `Backup test ${tenantId.slice(0, 8)}`,
  });
  return { tenantId, schema: schemaName };
}

/** Text that trips naive SQL handling: quotes, tabs, newlines, backslashes, non-ASCII, COPY markers. */
const AWKWARD = [
  'O\'Brien & "Sons"',
  'tab\there',
  'line\nbreak\r\nwindows',
  'back\\slash \\N \\.',
  'Zürich – 東京 – 😀',
  '\\.\n',
  '',
];

/**
 * Fills the tenant's template tables: accounts with awkward names and precise amounts, ledger rows per
 * account, plus `bulkRows` accounts whose names are ~`bulkBytes` of random hex (hard to compress, for
 * transfers that must take a while). Then fills any other table of the schema with generic rows, so
 * every table the template has (today or after a later migration) holds data.
 */
export async function fillTenant(
  ctx: Pick<BackupTestContext, 'ownerPool'>,
  schema: string,
  opts: { bulkRows?: number; bulkBytes?: number } = {},
): Promise<void> {
  const c = await ctx.ownerPool.connect();
  try {
    await c.query('BEGIN');
    await c.query(`SET LOCAL search_path = "${schema}"`);
    for (let i = 0; i < AWKWARD.length; i++) {
      const acc = await c.query<{ id: string }>(
        'INSERT INTO accounts (name, currency, cash) VALUES ($1, $2, $3) RETURNING id',
        [
          AWKWARD[i],
          i % 2 ? 'EUR' : 'USD',
          `${1000 + i}.${String(i * 1111)
            .padStart(4, '0')
            .slice(0, 4)}`,
        ],
      );
      const id = acc.rows[0]?.id;
      for (let j = 0; j < 5; j++) {
        await c.query(
          'INSERT INTO cash_ledger (account_id, kind, amount, created_at) VALUES ($1, $2, $3, $4)',
          [
            id,
            ['deposit', 'withdrawal', 'trade', 'fee', 'interest'][j],
            j % 2 ? `-${j}.0001` : `${j * 1234567}.9999`,
            new Date(Date.UTC(2024, 0, 1 + j, 12, 0, j)),
          ],
        );
      }
    }
    const bulkRows = opts.bulkRows ?? 0;
    if (bulkRows > 0) {
      const bytes = opts.bulkBytes ?? 10_000;
      await c.query(
        `INSERT INTO accounts (name, cash)
         SELECT string_agg(md5(random()::text || g::text || s::text), ''), 1
           FROM generate_series(1, $1::int) g, generate_series(1, $2::int) s GROUP BY g`,
        [bulkRows, Math.ceil(bytes / 32)],
      );
    }
    await fillRemainingTables(c, schema);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

interface ColumnInfo {
  name: string;
  type: string;
  notNull: boolean;
  hasDefault: boolean;
  enumLabels: string[] | null;
}

/**
 * Inserts generic rows into every still-empty table of the schema (tables a later template migration
 * adds): values by column type, foreign keys pointing at existing rows (tables filled in dependency
 * order), `IN (...)` / `= ANY (ARRAY[...])` check constraints honoured. Best effort by design: a table
 * it cannot fill fails the test with its name, so the fixture gets a specific filler.
 */
async function fillRemainingTables(c: pg.PoolClient, schema: string): Promise<void> {
  const tables = (
    await c.query<{ name: string; rows: boolean }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE '\\_\\_%' ORDER BY 1`,
      [schema],
    )
  ).rows.map((r) => r.name);
  const fks = (
    await c.query<{ tbl: string; col: string; ref: string; refcol: string }>(
      `SELECT cl.relname AS tbl, a.attname AS col, rc.relname AS ref, ra.attname AS refcol
         FROM pg_constraint k
         JOIN pg_class cl ON cl.oid = k.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
         JOIN pg_class rc ON rc.oid = k.confrelid
         JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
         JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1]
        WHERE k.contype = 'f' AND n.nspname = $1 AND array_length(k.conkey, 1) = 1`,
      [schema],
    )
  ).rows;
  const done = new Set<string>();
  const order: string[] = [];
  const visit = (t: string, depth = 0): void => {
    if (done.has(t) || depth > 20) return;
    for (const fk of fks) if (fk.tbl === t && fk.ref !== t) visit(fk.ref, depth + 1);
    done.add(t);
    order.push(t);
  };
  for (const t of tables) visit(t);

  for (const table of order) {
    const q = `"${schema}"."${table}"`;
    const count = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${q}`);
    if ((count.rows[0]?.n ?? 0) > 0) continue;
    const cols = (
      await c.query<ColumnInfo>(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
                (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS "hasDefault",
                (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = a.atttypid) AS "enumLabels"
           FROM pg_attribute a JOIN pg_class cl ON cl.oid = a.attrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
          WHERE n.nspname = $1 AND cl.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [schema, table],
      )
    ).rows;
    const checks = (
      await c.query<{ def: string }>(
        `SELECT pg_get_constraintdef(k.oid) AS def FROM pg_constraint k JOIN pg_class cl ON cl.oid = k.conrelid
           JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE n.nspname = $1 AND cl.relname = $2 AND k.contype = 'c'`,
        [schema, table],
      )
    ).rows.map((r) => r.def);
    for (let i = 0; i < 5; i++) {
      const names: string[] = [];
      const values: unknown[] = [];
      for (const col of cols) {
        const fk = fks.find((f) => f.tbl === table && f.col === col.name);
        if (fk) {
          const ref = await c.query<{ v: unknown }>(
            `SELECT "${fk.refcol}" AS v FROM "${schema}"."${fk.ref}" ORDER BY 1 OFFSET $1 LIMIT 1`,
            [i],
          );
          const v =
            ref.rows[0]?.v ??
            (await c.query<{ v: unknown }>(`SELECT "${fk.refcol}" AS v FROM "${schema}"."${fk.ref}" LIMIT 1`))
              .rows[0]?.v;
          names.push(col.name);
          values.push(v ?? null);
          continue;
        }
        if (col.hasDefault) continue;
        if (!col.notNull && i % 2 === 1) continue;
        names.push(col.name);
        values.push(genericValue(col, i, checks));
      }
      const sql = `INSERT INTO ${q} (${names.map((n) => `"${n}"`).join(', ')}) VALUES (${names.map((_, k) => `$${k + 1}`).join(', ')})`;
      try {
        await c.query('SAVEPOINT fill');
        await c.query(names.length > 0 ? sql : `INSERT INTO ${q} DEFAULT VALUES`, values);
        await c.query('RELEASE SAVEPOINT fill');
      } catch (err) {
        await c.query('ROLLBACK TO SAVEPOINT fill');
        throw new Error(
          `backup fixture cannot fill table ${table}: ${(err as Error).message}; add a filler for it`,
        );
      }
    }
  }
}

function allowedValues(col: string, checks: string[]): string[] | undefined {
  for (const def of checks) {
    if (!def.includes(col)) continue;
    const m = /ARRAY\[(.*?)\]/.exec(def) ?? /IN \((.*?)\)/.exec(def);
    if (!m?.[1]) continue;
    const vals = [...m[1].matchAll(/'((?:[^']|'')*)'/g)].map((x) => (x[1] ?? '').replace(/''/g, "'"));
    if (vals.length > 0) return vals;
  }
  return undefined;
}

function genericValue(col: ColumnInfo, i: number, checks: string[]): unknown {
  if (col.enumLabels?.length) return col.enumLabels[i % col.enumLabels.length];
  const allowed = allowedValues(col.name, checks);
  if (allowed) return allowed[i % allowed.length];
  const t = col.type;
  if (t === 'uuid') return randomUUID();
  if (t.startsWith('character(')) return 'X'.repeat(Number(/\((\d+)\)/.exec(t)?.[1] ?? 1));
  if (t === 'text' || t.startsWith('character varying')) return `${col.name} ${i} 'q'\t\\`;
  if (t.startsWith('numeric') || t === 'double precision' || t === 'real') return `${i + 1}.5`;
  if (t === 'integer' || t === 'bigint' || t === 'smallint') return i + 1;
  if (t === 'boolean') return i % 2 === 0;
  if (t.startsWith('timestamp') || t === 'date') return new Date(Date.UTC(2024, 1, 1 + i));
  if (t === 'jsonb' || t === 'json') return JSON.stringify({ i, note: "it's" });
  if (t === 'bytea') return Buffer.from([0, i, 255]);
  if (t.endsWith('[]')) return [];
  return `${i}`;
}

/** Rows per table of a schema (superuser). */
export async function rowCounts(
  ctx: Pick<BackupTestContext, 'admin'>,
  schema: string,
): Promise<Record<string, number>> {
  const tables = await ctx.admin.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1`,
    [schema],
  );
  const out: Record<string, number> = {};
  for (const t of tables.rows) {
    const n = await ctx.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}"."${t.name}"`);
    out[t.name] = n.rows[0]?.n ?? 0;
  }
  return out;
}

/**
 * `pg_dump --schema` of a schema as the superuser (data, DDL, owners and grants), without the
 * per-run `\restrict` key lines, so two dumps of the same content are byte-identical.
 */
export async function dumpSchema(ctx: Pick<BackupTestContext, 'adminUrl'>, schema: string): Promise<string> {
  const { stdout } = await execFileAsync(
    'pg_dump',
    ['--format=plain', `--schema=${schema}`, `--dbname=${ctx.adminUrl}`],
    {
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  return stdout
    .split('\n')
    .filter((l) => !/^\\(un)?restrict /.test(l))
    .join('\n');
}

/** Schemas whose names start with `prefix` (leftovers of swaps). */
export async function schemasLike(ctx: Pick<BackupTestContext, 'admin'>, prefix: string): Promise<string[]> {
  const r = await ctx.admin.query<{ nspname: string }>(
    `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1`,
    [prefix],
  );
  return r.rows.map((x) => x.nspname);
}

/** Every file under a local folder, relative paths. */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(path.join(dir, e.name), path.posix.join(rel, e.name));
      else out.push(path.posix.join(rel, e.name));
    }
  };
  await walk(root, '');
  return out.sort();
}

/**
 * A TCP proxy in front of sshd: counts client-to-server bytes and, once `afterBytes` went through,
 * calls `onThreshold` with the traffic paused (nothing more is forwarded until it returns), e.g. to
 * stop sshd or to cut the connection at a known point of an upload.
 */
export class FaultProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  forwarded = 0;
  /** True once the threshold was reached. */
  fired = false;

  constructor(
    private readonly targetPort: number,
    private readonly afterBytes = Number.POSITIVE_INFINITY,
    private readonly onThreshold: (proxy: FaultProxy) => Promise<void> = () => Promise.resolve(),
  ) {}

  async start(): Promise<number> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      upstream.on('data', (d) => client.write(d));
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.on('data', (d) => {
        this.forwarded += d.length;
        upstream.write(d);
        if (!this.fired && this.forwarded >= this.afterBytes) {
          this.fired = true;
          client.pause();
          void this.onThreshold(this).finally(() => client.resume());
        }
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Destroys every proxied connection (the network "cut"). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
