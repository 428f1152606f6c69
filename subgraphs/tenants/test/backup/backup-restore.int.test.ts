/**
 * The backup pipeline against a real OpenSSH server and real Postgres: a backup restores to exactly
 * the same schema (dump before == dump after), the file lands under YYYY/MM/DD with the right name,
 * its sha256 matches, it is unreadable without the key; a clone restores into a new tenant; corrupted
 * and truncated files fail cleanly and leave the tenant as it was; a dump waits for the tenant lock.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantSchemaName } from '../../../../lib/db.js';
import { BackupKeyring, DecryptStream, parseBackupKeys } from '../../src/backup/backup-crypto.js';
import { BackupIntegrityError } from '../../src/backup/backup.errors.js';
import { runBackup, type BackupResult, type BackupProgress } from '../../src/backup/backup.pipeline.js';
import { signManifest } from '../../src/backup/backup-manifest.js';
import { runRestore } from '../../src/backup/restore.pipeline.js';
import { TemplateRegistry, templateTables } from '../../src/template.registry.js';
import { withTenantLock } from '../../src/jobs/tenant-ddl.js';
import {
  dumpSchema,
  fillTenant,
  listFiles,
  provisionTenant,
  rowCounts,
  schemasLike,
  startBackupContext,
  type BackupTestContext,
} from './support/backup-fixtures.js';

let ctx: BackupTestContext;
let tenantId: string;
let schema: string;
let backup: BackupResult;
let backupId: string;
let before: string;
let tables: Set<string>;

const localPath = (remote: string): string => remote; // the test sshd shares our filesystem

async function decryptWith(keyring: BackupKeyring, file: string): Promise<Buffer> {
  const d = new DecryptStream(keyring);
  const out: Buffer[] = [];
  d.on('data', (b: Buffer) => out.push(b));
  await new Promise<void>((resolve, reject) => {
    d.on('end', resolve);
    d.on('error', reject);
    void readFile(file).then((buf) => d.end(buf), reject);
  });
  return Buffer.concat(out);
}

/** Offsets where the chunks of a TSBK file start (format in backup-crypto.ts). */
function chunkStarts(b: Buffer): number[] {
  const starts: number[] = [];
  let off = 7 + (b[6] ?? 0) + 12 + 4;
  while (off < b.length) {
    starts.push(off);
    off += 4 + (b.readUInt32BE(off) & 0x7fffffff) + 16;
  }
  return starts;
}

beforeAll(async () => {
  ctx = await startBackupContext('backup_restore');
  // Small chunks: the file has dozens, so corruption is met after psql already received SQL.
  ctx.settings = { ...ctx.settings, chunkBytes: 4096 };
  ({ tenantId, schema } = await provisionTenant(ctx));
  await fillTenant(ctx, schema, { bulkRows: 20, bulkBytes: 2000 });
  before = await dumpSchema(ctx, schema);
  tables = await templateTables(
    await new TemplateRegistry(ctx.env.config.TENANT_TEMPLATES_DIR).load('trading'),
  );
  backupId = randomUUID();
  const phases: BackupProgress['phase'][] = [];
  backup = await runBackup(
    { ownerPool: ctx.ownerPool, settings: ctx.settings, keyring: ctx.keyring },
    { backupId, tenantId, schemaName: schema, startedAt: new Date('2024-03-05T02:30:07Z'), type: 'MANUAL' },
    (p) => {
      phases.push(p.phase);
    },
  );
  expect(phases).toContain('done');
});

afterAll(async () => {
  await ctx?.cleanup();
});

describe('backup', () => {
  it('has many encrypted chunks, the last one flagged final', async () => {
    const b = await readFile(backup.remotePath);
    const starts = chunkStarts(b);
    expect(starts.length).toBeGreaterThan(5);
    expect(starts.map((o) => b.readUInt32BE(o) >>> 31)).toEqual([...starts.slice(1).map(() => 0), 1]);
  });

  it('fills every table of the template with rows', async () => {
    const counts = await rowCounts(ctx, schema);
    expect(Object.keys(counts).length).toBeGreaterThanOrEqual(3);
    for (const [table, n] of Object.entries(counts)) expect(n, table).toBeGreaterThan(0);
    expect(backup.manifest.rowCounts).toEqual(counts);
  });

  it('lands under YYYY/MM/DD with the documented name, and nothing else is left', async () => {
    const root = ctx.sshd.root;
    expect(backup.remotePath).toBe(
      `${root}/2024/03/05/backup_${tenantId}_20240305_023007_${backupId}.sql.gz.enc`,
    );
    expect(await listFiles(root)).toEqual([
      `2024/03/05/backup_${tenantId}_20240305_023007_${backupId}.sql.gz.enc`,
      `2024/03/05/backup_${tenantId}_20240305_023007_${backupId}.sql.gz.enc.manifest.json`,
    ]);
  });

  it('records a sha256 and size that match the stored file, in the manifest beside it', async () => {
    const bytes = await readFile(localPath(backup.remotePath));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(backup.manifest.sha256);
    expect(bytes.length).toBe(backup.manifest.sizeBytes);
    const manifest = JSON.parse(await readFile(`${backup.remotePath}.manifest.json`, 'utf8')) as Record<
      string,
      unknown
    >;
    expect(manifest).toMatchObject({
      backupId,
      tenantId,
      schema,
      type: 'MANUAL',
      sha256: backup.manifest.sha256,
      sizeBytes: bytes.length,
      gzipLevel: 6,
      encryption: { algorithm: 'AES-256-GCM', format: 'TSBK/1', keyId: 'test-key' },
    });
    expect(String(manifest['pgDumpVersion'])).toMatch(/^pg_dump \(PostgreSQL\) \d+/);
    expect(backup.manifest.dumpBytes).toBeGreaterThan(backup.manifest.gzipBytes);
  });

  it('is unreadable without the key: not gzip, no plaintext, a wrong key fails authentication', async () => {
    const bytes = await readFile(backup.remotePath);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('TSBK');
    expect(() => gunzipSync(bytes)).toThrow();
    expect(bytes.includes(Buffer.from('CREATE TABLE'))).toBe(false);
    expect(bytes.includes(Buffer.from(schema))).toBe(false);
    // Same key id, other key material: every chunk fails authentication.
    const wrong = new BackupKeyring(parseBackupKeys(`test-key:${randomBytes(32).toString('base64')}`));
    await expect(decryptWith(wrong, backup.remotePath)).rejects.toMatchObject({ reason: 'auth-failed' });
    const unknown = new BackupKeyring(parseBackupKeys(`other:${randomBytes(32).toString('base64')}`));
    await expect(decryptWith(unknown, backup.remotePath)).rejects.toMatchObject({ reason: 'unknown-key' });
    // With the key: a gzip stream of pg_dump SQL for this schema.
    const sql = gunzipSync(await decryptWith(ctx.keyring, backup.remotePath)).toString('utf8');
    expect(sql).toContain(`CREATE SCHEMA ${schema};`);
  });
});

describe('restore', () => {
  it('in place: reproduces the tenant exactly after the data changed, and drops the old schema', async () => {
    // (The ledger is append-only: its rows cannot be changed, only added to.)
    await ctx.admin.query(
      `INSERT INTO "${schema}".cash_ledger (account_id, kind, amount) SELECT id, 'fee', -1 FROM "${schema}".accounts`,
    );
    await ctx.admin.query(`UPDATE "${schema}".accounts SET cash = 0`);
    await ctx.admin.query(`INSERT INTO "${schema}".accounts (name, cash) VALUES ('after the backup', 5)`);
    await ctx.ownerPool.query(`CREATE TABLE "${schema}".stray (x int)`);
    expect(await dumpSchema(ctx, schema)).not.toBe(before);

    const result = await runRestore(
      { ownerPool: ctx.ownerPool, settings: ctx.settings, keyring: ctx.keyring },
      {
        remotePath: backup.remotePath,
        sha256: backup.manifest.sha256,
        sizeBytes: backup.manifest.sizeBytes,
        schema,
        tenantId,
        templateTables: tables,
      },
      { kind: 'in-place' },
    );
    expect(result.schema).toBe(schema);
    expect(await dumpSchema(ctx, schema)).toBe(before);
    expect(await schemasLike(ctx, `${schema}_`)).toEqual([]);
    // The app role, through the tenant role, works on the restored tables.
    const c = await ctx.appPool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`SET LOCAL ROLE "${schema}"`);
      const n = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".accounts`);
      expect(n.rows[0]?.n).toBe(backup.manifest.rowCounts['accounts']);
      // (accounts: no sequence, so the rolled-back insert leaves no trace in the next dump)
      await c.query(`INSERT INTO "${schema}".accounts (name, cash) VALUES ('restored', 1)`);
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
  });

  it('into a new tenant (clone): same data under the clone schema, no grants to the source role', async () => {
    const cloneId = randomUUID();
    const cloneSchema = tenantSchemaName(cloneId);
    await ctx.admin.query(`CREATE ROLE "${cloneSchema}" NOLOGIN`);
    try {
      await runRestore(
        { ownerPool: ctx.ownerPool, settings: ctx.settings, keyring: ctx.keyring },
        {
          remotePath: backup.remotePath,
          sha256: backup.manifest.sha256,
          schema,
          tenantId,
          templateTables: tables,
        },
        { kind: 'clone', tenantId: cloneId, schema: cloneSchema },
        {
          afterCommit: async (client, s) => {
            await client.query(`GRANT USAGE ON SCHEMA "${s}" TO "${cloneSchema}"`);
          },
        },
      );
      // The source is untouched.
      expect(await dumpSchema(ctx, schema)).toBe(before);
      expect(await rowCounts(ctx, cloneSchema)).toEqual(backup.manifest.rowCounts);
      const data = async (s: string): Promise<Record<string, unknown>[]> =>
        (
          await ctx.admin.query<Record<string, unknown>>(
            `SELECT a.*, l.* FROM "${s}".accounts a JOIN "${s}".cash_ledger l ON l.account_id = a.id ORDER BY l.id`,
          )
        ).rows;
      expect(await data(cloneSchema)).toEqual(await data(schema));
      const acl = await ctx.admin.query<{ acl: string | null }>(
        `SELECT c.relacl::text AS acl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1
         UNION ALL SELECT nspacl::text FROM pg_namespace WHERE nspname = $1
         UNION ALL SELECT defaclacl::text FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace WHERE n.nspname = $1`,
        [cloneSchema],
      );
      for (const r of acl.rows) expect(r.acl ?? '').not.toContain(`${schema}=`);
      expect(await schemasLike(ctx, `${schema}_`)).toEqual([]);
    } finally {
      await ctx.admin.query(`DROP SCHEMA IF EXISTS "${cloneSchema}" CASCADE`);
      await ctx.admin.query(`DROP ROLE IF EXISTS "${cloneSchema}"`);
    }
  });

  describe('a bad file fails cleanly and leaves the tenant as it was', () => {
    const copyOf = async (
      name: string,
      edit: (b: Buffer) => Buffer,
    ): Promise<{ remotePath: string; sha256: string }> => {
      const bytes = edit(Buffer.from(await readFile(backup.remotePath)));
      const remotePath = path.join(path.dirname(backup.remotePath), name);
      await writeFile(remotePath, bytes);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      // An authentic manifest for the copy: these cases are about the file itself.
      const { mac: _mac, formatVersion: _v, ...unsigned } = backup.manifest;
      const manifest = signManifest({ ...unsigned, sha256, file: name }, ctx.keyring.current);
      await writeFile(`${remotePath}.manifest.json`, JSON.stringify(manifest));
      return { remotePath, sha256 };
    };
    const restoreBad = (f: { remotePath: string; sha256: string }): Promise<unknown> =>
      runRestore(
        { ownerPool: ctx.ownerPool, settings: ctx.settings, keyring: ctx.keyring },
        { ...f, schema, tenantId, rowCounts: backup.manifest.rowCounts, templateTables: tables },
        { kind: 'in-place' },
      );

    it('sha256 differs from the record: rejected before decrypting', async () => {
      const f = await copyOf('sha.enc', (b) => b);
      await truncate(f.remotePath, (await stat(f.remotePath)).size - 100);
      await expect(restoreBad(f)).rejects.toMatchObject({ reason: 'sha256-mismatch' });
      expect(await dumpSchema(ctx, schema)).toBe(before);
    });

    it('truncated at a chunk boundary (consistent sha256, so decryption has to notice)', async () => {
      // Every byte left is authentic; only the final chunk is missing.
      const f = await copyOf('truncated.enc', (b) => b.subarray(0, chunkStarts(b).at(-1)));
      const err = await restoreBad(f).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackupIntegrityError);
      expect(err).toMatchObject({ reason: 'truncated' });
      expect(await dumpSchema(ctx, schema)).toBe(before);
      expect(await schemasLike(ctx, `${schema}_`)).toEqual([]);
    });

    it('truncated inside a chunk', async () => {
      const f = await copyOf('truncated-mid.enc', (b) => b.subarray(0, Math.floor(b.length / 2)));
      await expect(restoreBad(f)).rejects.toMatchObject({ reason: 'truncated' });
      expect(await dumpSchema(ctx, schema)).toBe(before);
      expect(await schemasLike(ctx, `${schema}_`)).toEqual([]);
    });

    it('one byte flipped in the middle (consistent sha256)', async () => {
      const f = await copyOf('flipped.enc', (b) => {
        const i = Math.floor(b.length * 0.6);
        b[i] = (b[i] ?? 0) ^ 0x01;
        return b;
      });
      await expect(restoreBad(f)).rejects.toMatchObject({ reason: 'auth-failed' });
      expect(await dumpSchema(ctx, schema)).toBe(before);
      expect(await schemasLike(ctx, `${schema}_`)).toEqual([]);
    });

    it('row counts that do not match the restored data roll the swap back', async () => {
      const err = await runRestore(
        { ownerPool: ctx.ownerPool, settings: ctx.settings, keyring: ctx.keyring },
        {
          remotePath: backup.remotePath,
          sha256: backup.manifest.sha256,
          schema,
          tenantId,
          rowCounts: { ...backup.manifest.rowCounts, accounts: 1 },
          templateTables: tables,
        },
        { kind: 'in-place' },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toContain('restore check failed');
      expect(await dumpSchema(ctx, schema)).toBe(before);
      expect(await schemasLike(ctx, `${schema}_`)).toEqual([]);
    });
  });

  describe('the manifest is authenticated, and its table names are checked before any SQL', () => {
    /** The backup file, copied with the manifest as `edit` leaves it (the file itself is intact). */
    const withManifest = async (
      name: string,
      edit: (m: Record<string, unknown>) => Record<string, unknown>,
    ): Promise<string> => {
      const remotePath = path.join(path.dirname(backup.remotePath), name);
      await writeFile(remotePath, await readFile(backup.remotePath));
      const original = JSON.parse(await readFile(`${backup.remotePath}.manifest.json`, 'utf8')) as Record<
        string,
        unknown
      >;
      await writeFile(`${remotePath}.manifest.json`, JSON.stringify(edit(original)));
      return remotePath;
    };
    const restoreFrom = (
      remotePath: string,
      extra: { rowCounts?: Record<string, number> } = {},
    ): Promise<unknown> =>
      runRestore(
        { ownerPool: ctx.ownerPool, settings: ctx.settings, keyring: ctx.keyring },
        { remotePath, sha256: backup.manifest.sha256, schema, tenantId, templateTables: tables, ...extra },
        { kind: 'in-place' },
      ).catch((e: unknown) => e);
    const untouched = async (): Promise<void> => {
      expect(await dumpSchema(ctx, schema)).toBe(before);
      expect(await schemasLike(ctx, `${schema}_`)).toEqual([]);
    };

    it('carries a MAC made with the backup key', () => {
      expect(backup.manifest).toMatchObject({
        formatVersion: 2,
        mac: { algorithm: 'HMAC-SHA256', keyId: 'test-key', value: expect.stringMatching(/^[0-9a-f]{64}$/) },
      });
    });

    it('a missing manifest is refused', async () => {
      const remotePath = path.join(path.dirname(backup.remotePath), 'no-manifest.enc');
      await writeFile(remotePath, await readFile(backup.remotePath));
      const err = await restoreFrom(remotePath, { rowCounts: backup.manifest.rowCounts });
      expect(err).toBeInstanceOf(BackupIntegrityError);
      expect(err).toMatchObject({ reason: 'manifest-mismatch', message: expect.stringContaining('missing') });
      await untouched();
    });

    it('a changed row count (MAC kept) is refused, with or without the platform record', async () => {
      const remotePath = await withManifest('tampered-count.enc', (m) => ({
        ...m,
        rowCounts: { ...(m['rowCounts'] as Record<string, number>), accounts: 0 },
      }));
      for (const extra of [{}, { rowCounts: backup.manifest.rowCounts }]) {
        const err = await restoreFrom(remotePath, extra);
        expect(err).toBeInstanceOf(BackupIntegrityError);
        expect(err).toMatchObject({ reason: 'manifest-mismatch', message: expect.stringContaining('MAC') });
        await untouched();
      }
    });

    it('a hostile table name (MAC kept) is refused', async () => {
      const remotePath = await withManifest('tampered-table.enc', (m) => ({
        ...m,
        rowCounts: { 'accounts" CASCADE; DROP SCHEMA public; --': 1 },
      }));
      await expect(restoreFrom(remotePath)).resolves.toMatchObject({ reason: 'manifest-mismatch' });
      await untouched();
    });

    it('a stripped MAC is refused: as version 2, or as version 1 without the platform record', async () => {
      const stripped = await withManifest('stripped.enc', (m) => ({ ...m, mac: undefined }));
      await expect(restoreFrom(stripped, { rowCounts: backup.manifest.rowCounts })).resolves.toMatchObject({
        reason: 'manifest-mismatch',
      });
      const v1 = await withManifest('downgraded.enc', (m) => ({
        ...m,
        mac: undefined,
        formatVersion: 1,
        rowCounts: { accounts: 0 },
      }));
      await expect(restoreFrom(v1)).resolves.toMatchObject({ reason: 'manifest-mismatch' });
      await untouched();
    });

    it('names outside the template are refused, even from an authentic manifest or the record', async () => {
      const { mac: _mac, formatVersion: _v, ...unsigned } = backup.manifest;
      const forged = signManifest(
        { ...unsigned, rowCounts: { ...unsigned.rowCounts, 'x"; DROP TABLE accounts; --': 0 } },
        ctx.keyring.current,
      );
      const signed = await withManifest('signed-bad-table.enc', () => ({ ...forged }));
      await expect(restoreFrom(signed)).resolves.toMatchObject({ reason: 'bad-table' });
      const err = await restoreFrom(backup.remotePath, {
        rowCounts: { ...backup.manifest.rowCounts, pg_authid: 0 },
      });
      expect(err).toMatchObject({ reason: 'bad-table' });
      await untouched();
    });

    it('an old manifest without a MAC restores when the platform holds the record (which is what is used)', async () => {
      await ctx.admin.query(`UPDATE "${schema}".accounts SET cash = cash + 1`);
      const v1 = await withManifest('legacy.enc', (m) => ({
        ...m,
        mac: undefined,
        formatVersion: 1,
        rowCounts: { accounts: 0 },
      }));
      const result = await restoreFrom(v1, { rowCounts: backup.manifest.rowCounts });
      expect(result).toMatchObject({ schema });
      await untouched();
    });
  });
});

describe('locking', () => {
  it('a backup waits while the tenant lock is held (as during a migration of that tenant)', async () => {
    const phases: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = withTenantLock(ctx.ownerPool, tenantId, async () => {
      locked();
      await held;
    });
    await isLocked;
    const run = runBackup(
      { ownerPool: ctx.ownerPool, settings: ctx.settings, keyring: ctx.keyring },
      { backupId: randomUUID(), tenantId, schemaName: schema, startedAt: new Date() },
      (p) => {
        phases.push(p.phase);
      },
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(phases).not.toContain('dumping');
    release();
    await holder;
    const result = await run;
    expect(phases).toContain('done');
    expect(result.manifest.rowCounts).toEqual(backup.manifest.rowCounts);
  });
});
