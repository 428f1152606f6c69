/**
 * Restores a backup: verify the manifest's MAC and table names -> download to a private temp file while
 * hashing -> compare the sha256 with the recorded one (before any byte is decrypted) -> decrypt (each chunk authenticated) -> gunzip -> psql,
 * all in ONE transaction on the owner role that swaps the restored schema in:
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ident, type PoolClient } from '../../../../lib/db.js';
import type { Logger } from '../../../../lib/logger.js';
import { withTenantLock } from '../jobs/tenant-ddl.js';
import { DecryptStream, type BackupKeyring } from './backup-crypto.js';
import { BackupIntegrityError, PermanentBackupError } from './backup.errors.js';
import { checkedRowCounts, readManifest } from './backup-manifest.js';
import { makeTempDir, type BackupSettings } from './backup.pipeline.js';
import { Ma130Connection } from './ma130.client.js';
import { exited, spawnPsql, stderrTail } from './pg-tools.js';

/** The backup to restore. */
export interface RestoreSource {
  remotePath: string;
  /** Recorded sha256 (hex) of the encrypted file; the download must match it. */
  sha256: string;
  sizeBytes?: number | null | undefined;
  /** Schema name inside the dump (the backed-up tenant's schema). */
  schema: string;
  /** The backed-up tenant (its lock is taken while its schema name is borrowed, clone only). */
  tenantId: string;
  /**
   * Row counts to check before committing (the platform's record); when absent, the manifest's. The
   * manifest beside the file is verified either way.
   */
  rowCounts?: Record<string, number> | undefined;
  /** Every table the tenant's template can have (template.registry.ts `templateTables`). */
  templateTables: ReadonlySet<string>;
}

/** Where to restore. */
export type RestoreTarget =
  | { kind: 'in-place' }
  | {
      kind: 'clone';
      /** The new tenant. */
      tenantId: string;
      /** Its schema (`t_<short id>`), which must not exist yet. */
      schema: string;
    };

export interface RestoreProgress {
  phase: 'downloading' | 'verifying' | 'restoring' | 'finalizing' | 'done';
  percent: number;
}

export interface RestoreResult {
  schema: string;
  bytes: number;
  /** In place: the name the previous schema had between the swap and its drop (null for a clone). */
  replacedSchema: string | null;
  durationMs: number;
}

export interface RestoreDeps {
  ownerPool: pg.Pool;
  settings: BackupSettings;
  keyring: BackupKeyring;
  logger?: Logger | undefined;
}

export interface RestoreHooks {
  /**
   * Runs after the commit, still under the tenant lock(s), on the target tenant's locked connection
   * (e.g. bring the schema to the template's current version, grant the clone's role).
   */
  afterCommit?: (client: PoolClient, schema: string) => Promise<void>;
}

const MARKER = 'tradesage-restore-committed';

const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** `DO` block raising unless the schema has exactly these tables with these row counts. */
function verifySql(schema: string, rowCounts: Record<string, number>): string {
  const names = Object.keys(rowCounts).sort();
  const expected = names.length > 0 ? `ARRAY[${names.map(lit).join(', ')}]::text[]` : `ARRAY[]::text[]`;
  const checks = names
    .map(
      (t) => `  SELECT count(*) INTO n FROM ${ident(schema)}."${t.replace(/"/g, '""')}";
  IF n <> ${Math.trunc(rowCounts[t] ?? -1)} THEN
    RAISE EXCEPTION 'restore check failed: table % has % rows, the backup recorded ${Math.trunc(rowCounts[t] ?? -1)}', ${lit(t)}, n;
  END IF;`,
    )
    .join('\n');
  return `DO $tradesage$
DECLARE n bigint;
BEGIN
  IF (SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname::text), ARRAY[]::text[])
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
       WHERE ns.nspname = ${lit(schema)} AND c.relkind = 'r') IS DISTINCT FROM ${expected} THEN
    RAISE EXCEPTION 'restore check failed: the restored tables differ from the backup''s';
  END IF;
${checks}
END
$tradesage$;
`;
}

function inPlaceSql(schema: string, old: string, lockTimeoutMs: number): { pre: string; post: string[] } {
  const pre = `SET lock_timeout = ${Math.trunc(lockTimeoutMs)};
BEGIN;
DO $tradesage$
DECLARE r record;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ${lit(schema)}) THEN
    -- Writers in flight finish first; later ones wait for the swap.
    FOR r IN SELECT c.oid::regclass AS t FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
              WHERE ns.nspname = ${lit(schema)} AND c.relkind IN ('r', 'p') LOOP
      EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', r.t);
    END LOOP;
    ALTER SCHEMA ${ident(schema)} RENAME TO ${ident(old)};
  END IF;
END
$tradesage$;
`;
  return { pre, post: [] };
}

function cloneSql(
  source: string,
  hold: string,
  target: string,
  lockTimeoutMs: number,
): { pre: string; post: string[] } {
  const pre = `SET lock_timeout = ${Math.trunc(lockTimeoutMs)};
BEGIN;
DO $tradesage$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ${lit(target)}) THEN
    RAISE EXCEPTION 'clone target schema % already exists', ${lit(target)};
  END IF;
  -- The dump grants to the source tenant's role; a deleted source tenant's role is lent for the
  -- transaction and dropped again below.
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${lit(source)}) THEN
    EXECUTE format('CREATE ROLE %I NOLOGIN', ${lit(source)});
    PERFORM pg_catalog.set_config('tradesage.lent_role', 'on', true);
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ${lit(source)}) THEN
    ALTER SCHEMA ${ident(source)} RENAME TO ${ident(hold)};
  END IF;
END
$tradesage$;
`;
  const post = [
    `ALTER SCHEMA ${ident(source)} RENAME TO ${ident(target)};`,
    `DO $tradesage$
DECLARE r record;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ${lit(hold)}) THEN
    ALTER SCHEMA ${ident(hold)} RENAME TO ${ident(source)};
  END IF;
  EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', ${lit(target)}, ${lit(source)});
  EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', ${lit(target)}, ${lit(source)});
  EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM %I', ${lit(target)}, ${lit(source)});
  EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %I', ${lit(target)}, ${lit(source)});
  FOR r IN SELECT pg_catalog.pg_get_userbyid(d.defaclrole) AS owner, d.defaclobjtype AS kind
             FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_namespace ns ON ns.oid = d.defaclnamespace
            WHERE ns.nspname = ${lit(target)} LOOP
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I REVOKE ALL ON %s FROM %I',
      r.owner, ${lit(target)},
      CASE r.kind WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' ELSE 'TYPES' END,
      ${lit(source)});
  END LOOP;
  IF pg_catalog.current_setting('tradesage.lent_role', true) = 'on' THEN
    EXECUTE format('DROP ROLE %I', ${lit(source)});
  END IF;
END
$tradesage$;
`,
  ];
  return { pre, post };
}

/** `..._<suffix>` within PostgreSQL's 63-byte identifier limit. */
function sideName(schema: string, tag: string): string {
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  return `${schema}_${tag}_${stamp}`.slice(0, 63);
}

/**
 * The row counts to check the restore against, from the manifest beside the file, verified before any
 * of it is used (backup-manifest.ts) and checked to describe this file. The platform's record of the
 * counts wins when given (the worker wrote it from the same manifest). A version 1 manifest (no MAC,
 * made before manifests were authenticated) is accepted only together with that record: nothing from
 * it is then used beyond the sha256 cross-check. Table names are validated before any SQL sees them.
 */
async function restoreRowCounts(
  conn: Ma130Connection,
  source: RestoreSource,
  keyring: BackupKeyring,
): Promise<Record<string, number>> {
  const manifestPath = `${source.remotePath}.manifest.json`;
  // Missing is permanent; a read that fails (connection cut) is retried like any transfer.
  if (!(await conn.stat(manifestPath))) {
    throw new BackupIntegrityError('manifest-mismatch', 'backup manifest is missing on the MA130');
  }
  const { manifest, authenticated } = readManifest(await conn.readSmall(manifestPath), keyring);
  if (
    manifest.sha256 !== source.sha256 ||
    manifest.schema !== source.schema ||
    manifest.tenantId !== source.tenantId
  ) {
    throw new BackupIntegrityError('manifest-mismatch', 'backup manifest does not describe this file');
  }
  if (!authenticated && !source.rowCounts) {
    throw new BackupIntegrityError(
      'manifest-mismatch',
      'backup manifest has no MAC and there is no record of the backup to check it against',
    );
  }
  return checkedRowCounts(source.rowCounts ?? manifest.rowCounts, source.templateTables);
}

/** Holds the advisory locks of several tenants (taken in sorted order, so two callers cannot deadlock). */
async function withLocks<T>(
  pool: pg.Pool,
  ids: string[],
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const [first, ...rest] = [...new Set(ids)].sort();
  if (!first) throw new Error('no tenant to lock');
  if (rest.length === 0) return withTenantLock(pool, first, fn);
  // Any owner connection serves for the DDL in `fn`; the locks live on their own connections.
  return withTenantLock(pool, first, (outer) => withLocks(pool, rest, () => fn(outer)));
}

/**
 * Restores a backup (see the module comment).
 * @param tenantId the tenant restored in place, or the clone's tenant id (also in `target`)
 * @throws BackupIntegrityError the file does not match its record, is corrupted, truncated, or
 *   encrypted with an unknown key (permanent; the tenant is unchanged)
 *
 * - In place (`kind: 'in-place'`): `LOCK` the tenant's tables (in-flight transactions finish first),
 *   `ALTER SCHEMA t_x RENAME TO t_x_old_<ts>`, run the dump (it creates a fresh `t_x`), check every
 *   table's row count against the manifest, `COMMIT`; then drop `t_x_old_<ts>`. Until the COMMIT,
 *   every other session still sees the old schema; any failure (a corrupted chunk, psql error, lost
 *   connection, killed worker) rolls back, leaving the tenant exactly as it was.
 * - Into a new tenant (`kind: 'clone'`): the dump creates objects under the SOURCE schema name, so
 *   inside the same transaction the source schema (if it still exists) is renamed out of the way, the
 *   dump restored and checked, renamed to the clone's schema, and the source renamed back. Other
 *   sessions never see the intermediate names (DDL is transactional; plain DML on the source does not
 *   block). The dump's grants to the source tenant's role are revoked on the clone (the role is
 *   created for the transaction and dropped again if it no longer exists); the caller then grants the
 *   clone's own role (`afterCommit`). No textual rewriting of SQL: nothing in the data can be altered.
 *
 * COMMIT is only sent after the decrypted stream has ended cleanly (final chunk authenticated, gzip
 * CRC checked); on any error psql is killed, so the server rolls back. The statement after COMMIT
 * prints a marker, and success requires seeing it.
 */
export async function runRestore(
  deps: RestoreDeps,
  source: RestoreSource,
  target: RestoreTarget,
  hooks: RestoreHooks = {},
  onProgress: (p: RestoreProgress) => Promise<void> | void = () => undefined,
): Promise<RestoreResult> {
  const started = Date.now();
  const progress = (p: RestoreProgress): void => {
    Promise.resolve(onProgress(p)).catch(() => undefined);
  };
  ident(source.schema);
  if (target.kind === 'clone') {
    ident(target.schema);
    if (target.schema === source.schema) throw new PermanentBackupError('a clone needs a schema of its own');
  }
  const { settings } = deps;
  const dir = makeTempDir(settings.tmpDir);
  const local = path.join(dir, 'backup.sql.gz.enc');
  try {
    // 1. Download while hashing, then compare before decrypting anything.
    progress({ phase: 'downloading', percent: 2 });
    const conn = await Ma130Connection.connect(settings.ma130);
    let rowCounts: Record<string, number>;
    let bytes = 0;
    try {
      rowCounts = await restoreRowCounts(conn, source, deps.keyring);
      const st = await conn.stat(source.remotePath);
      if (!st) throw new PermanentBackupError(`backup file ${source.remotePath} is missing on the MA130`);
      const out = createWriteStream(local, { mode: 0o600 });
      const hash = createHash('sha256');
      const done = new Promise<void>((resolve, reject) => {
        out.once('finish', resolve);
        out.once('error', reject);
      });
      bytes = await conn.read(source.remotePath, async (piece) => {
        hash.update(piece);
        if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
        progress({ phase: 'downloading', percent: 2 + Math.round((38 * bytes) / Math.max(1, st.size)) });
      });
      out.end();
      await done;
      progress({ phase: 'verifying', percent: 40 });
      const sha = hash.digest('hex');
      if (sha !== source.sha256) {
        throw new BackupIntegrityError(
          'sha256-mismatch',
          `backup sha256 ${sha} does not match the recorded ${source.sha256}`,
        );
      }
      if (source.sizeBytes != null && bytes !== source.sizeBytes) {
        throw new BackupIntegrityError(
          'size-mismatch',
          `backup is ${bytes} bytes, the record says ${source.sizeBytes}`,
        );
      }
    } finally {
      conn.close();
    }
    const counts = rowCounts;

    // 2. Restore and swap in one transaction, under the tenant lock(s).
    const targetTenant = target.kind === 'clone' ? target.tenantId : source.tenantId;
    const targetSchema = target.kind === 'clone' ? target.schema : source.schema;
    const lockIds = target.kind === 'clone' ? [source.tenantId, target.tenantId] : [source.tenantId];
    const replaced = target.kind === 'in-place' ? sideName(source.schema, 'old') : null;
    return await withLocks(deps.ownerPool, lockIds, async (client) => {
      progress({ phase: 'restoring', percent: 45 });
      const sql =
        target.kind === 'in-place'
          ? inPlaceSql(source.schema, replaced as string, settings.lockWaitTimeoutMs)
          : cloneSql(
              source.schema,
              sideName(source.schema, 'hold'),
              target.schema,
              settings.lockWaitTimeoutMs,
            );
      const tail = [verifySql(source.schema, counts), ...sql.post, 'COMMIT;\n', `SELECT '${MARKER}';\n`];
      const psql = spawnPsql(settings.ownerUrl, settings.pgBinDir);
      const psqlErr = stderrTail(psql);
      const psqlExit = exited(psql);
      psqlExit.catch(() => undefined);
      let stdout = '';
      psql.stdout?.setEncoding('utf8');
      psql.stdout?.on('data', (d: string) => {
        stdout = (stdout + d).slice(-4096);
      });
      let restored = 0;
      try {
        await pipeline(
          createReadStream(local),
          new DecryptStream(deps.keyring),
          createGunzip(),
          async function* (sqlText: AsyncIterable<Buffer>) {
            yield Buffer.from(sql.pre);
            for await (const piece of sqlText) {
              restored += piece.length;
              yield piece;
            }
            // Reached only when decryption and decompression ended cleanly.
            for (const s of tail) yield Buffer.from(s);
          },
          psql.stdin as NodeJS.WritableStream,
        );
      } catch (err) {
        // Never let psql reach end of input in a way that could be mistaken for success.
        psql.kill('SIGKILL');
        await psqlExit.catch(() => undefined);
        if (err instanceof PermanentBackupError) throw err;
        const detail = psqlErr();
        if ((err as NodeJS.ErrnoException).code === 'EPIPE' && detail) {
          throw new Error(`restore failed: ${firstError(detail)}`, { cause: err });
        }
        if ((err as { code?: string }).code?.startsWith('Z_')) {
          throw new BackupIntegrityError(
            'auth-failed',
            `backup decompression failed: ${(err as Error).message}`,
          );
        }
        throw err;
      }
      const exit = await psqlExit;
      if (exit.code !== 0 || !stdout.includes(MARKER)) {
        throw new Error(
          `restore failed (psql ${String(exit.code ?? exit.signal)}): ${firstError(psqlErr())}`,
        );
      }
      progress({ phase: 'finalizing', percent: 90 });
      if (replaced) {
        // After the commit: the old schema is no longer the tenant's; a failure here leaves a
        // `_old_` schema behind (logged), never a half-restored tenant.
        await client.query(`DROP SCHEMA IF EXISTS ${ident(replaced)} CASCADE`).catch((e: unknown) => {
          deps.logger?.error({ err: e, schema: replaced }, 'could not drop the replaced schema');
        });
      }
      await hooks.afterCommit?.(client, targetSchema);
      progress({ phase: 'done', percent: 100 });
      deps.logger?.info({ tenantId: targetTenant, schema: targetSchema, bytes: restored }, 'tenant restored');
      return {
        schema: targetSchema,
        bytes: restored,
        replacedSchema: replaced,
        durationMs: Date.now() - started,
      };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The first `ERROR:` line of psql's output (no statement text, no data). */
function firstError(stderr: string): string {
  const line = stderr.split('\n').find((l) => /ERROR:/.test(l)) ?? stderr.split('\n')[0] ?? '';
  return line.replace(/^.*?ERROR:\s*/, '').slice(0, 300) || 'unknown error';
}
