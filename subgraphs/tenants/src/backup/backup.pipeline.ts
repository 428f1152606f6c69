/**
 * One tenant backup, streamed end to end (nothing is held in memory whole):
 *
 * ```
 * pg_dump --schema=<tenant schema> --snapshot=<s> --lock-wait-timeout
 *   -> gzip (node:zlib, BACKUP_GZIP_LEVEL) -> AES-256-GCM chunks (backup-crypto.ts) -> sha256
 *   -> SFTP <final>.part  -> read back + compare sha256 and size -> rename to <final>
 *   -> <final>.manifest.json (MACed with a key derived from the backup key; written the same way)
 * ```
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type pg from 'pg';
import type { TenantsConfig } from '../config.js';
import { ident } from '../../../../lib/db.js';
import type { Logger } from '../../../../lib/logger.js';
import { withTenantLock } from '../jobs/tenant-ddl.js';
import { DEFAULT_CHUNK_BYTES, EncryptStream, type BackupKeyring } from './backup-crypto.js';
import { signManifest, type BackupManifest } from './backup-manifest.js';
import { PermanentBackupError } from './backup.errors.js';
import {
  Ma130Connection,
  ma130Settings,
  type Ma130ConnectionPool,
  type Ma130Settings,
} from './ma130.client.js';
import { exited, pgDumpVersion, spawnPgDump, stderrTail } from './pg-tools.js';
import { ByteCounter, CopyRowCounter, Sha256Meter } from './stream-meters.js';

/** Everything the backup and restore pipelines need from the configuration. */
export interface BackupSettings {
  ma130: Ma130Settings;
  /** Owner-role URL: pg_dump and the restore's psql connect as the owner of the tenant schemas. */
  ownerUrl: string;
  gzipLevel: number;
  lockWaitTimeoutMs: number;
  pgBinDir: string | undefined;
  /** Local folder for restore downloads. */
  tmpDir: string;
  /** Plaintext bytes per encrypted chunk (tests use small chunks to get many). @default 1 MiB */
  chunkBytes?: number | undefined;
}

/** The backup settings of a configuration. */
export function backupSettings(
  config: Parameters<typeof ma130Settings>[0] &
    Pick<
      TenantsConfig,
      | 'DATABASE_OWNER_URL'
      | 'BACKUP_GZIP_LEVEL'
      | 'BACKUP_LOCK_WAIT_TIMEOUT_MS'
      | 'PG_BIN_DIR'
      | 'BACKUP_TMP_DIR'
    >,
): BackupSettings {
  return {
    ma130: ma130Settings(config),
    ownerUrl: config.DATABASE_OWNER_URL,
    gzipLevel: config.BACKUP_GZIP_LEVEL,
    lockWaitTimeoutMs: config.BACKUP_LOCK_WAIT_TIMEOUT_MS,
    pgBinDir: config.PG_BIN_DIR,
    tmpDir: config.BACKUP_TMP_DIR ?? os.tmpdir(),
  };
}

/** What to back up. `startedAt` and `backupId` name the file, so a retry writes the same path. */
export interface BackupRequest {
  backupId: string;
  tenantId: string;
  schemaName: string;
  startedAt: Date;
  /** Recorded in the manifest (MANUAL, SCHEDULED, INITIAL). */
  type?: string | undefined;
}

export type { BackupManifest } from './backup-manifest.js';

/** The outcome of {@link runBackup}. */
export interface BackupResult {
  remotePath: string;
  manifestPath: string;
  manifest: BackupManifest;
  durationMs: number;
}

/** Progress of a backup: a phase and a percentage (0..100). */
export interface BackupProgress {
  phase: 'connecting' | 'dumping' | 'verifying' | 'finalizing' | 'done';
  percent: number;
  /** SQL bytes dumped so far (dumping). */
  bytes?: number;
}

export interface BackupDeps {
  /** Owner-role pool: the tenant lock and the snapshot transaction. */
  ownerPool: pg.Pool;
  settings: BackupSettings;
  keyring: BackupKeyring;
  logger?: Logger | undefined;
  /** Reused MA130 sessions (the worker's); without it, each backup connects and disconnects. */
  ma130?: Ma130ConnectionPool | undefined;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `YYYY/MM/DD` and `YYYYMMDD_HHMMSS` of a date, in UTC. */
export function backupDateParts(d: Date): { folder: string; stamp: string } {
  const y = String(d.getUTCFullYear());
  const m = pad(d.getUTCMonth() + 1);
  const day = pad(d.getUTCDate());
  return {
    folder: `${y}/${m}/${day}`,
    stamp: `${y}${m}${day}_${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`,
  };
}

/** `MA130_BACKUP_PATH/YYYY/MM/DD/backup_<tenant id>_<YYYYMMDD_HHMMSS>_<backup id>.sql.gz.enc`. */
export function backupRemotePath(
  basePath: string,
  req: Pick<BackupRequest, 'tenantId' | 'backupId' | 'startedAt'>,
): string {
  const { folder, stamp } = backupDateParts(req.startedAt);
  return `${basePath}/${folder}/backup_${req.tenantId}_${stamp}_${req.backupId}.sql.gz.enc`;
}

/** Path of the manifest of a backup file. */
export const manifestPathOf = (remotePath: string): string => `${remotePath}.manifest.json`;

const SAFE_ID = /^[0-9a-f-]{36}$/i;

/**
 * Runs one backup (see the module comment).
 * @param onProgress called as the backup advances (errors it throws are ignored)
 * @throws PermanentBackupError (or a subclass) for faults retrying cannot fix
 *
 * Under the tenant's advisory lock (the one provisioning and migrate-tenants take, tenant-ddl.ts
 * `withTenantLock`), so a dump never overlaps a migration of that tenant. The rows of each table are
 * counted in the dump stream itself (its COPY blocks), so the manifest's row counts describe exactly
 * the dumped data (a restore checks them before it commits) without a second scan of the tables.
 *
 * A file under its final name is always complete and verified: anything that fails before the rename
 * leaves at most `<final>.part` (overwritten by the retry, which reuses the same name).
 */
export async function runBackup(
  deps: BackupDeps,
  req: BackupRequest,
  onProgress: (p: BackupProgress) => Promise<void> | void = () => undefined,
): Promise<BackupResult> {
  ident(req.schemaName);
  if (!SAFE_ID.test(req.tenantId) || !SAFE_ID.test(req.backupId)) {
    throw new PermanentBackupError('backup and tenant ids must be UUIDs');
  }
  const progress = (p: BackupProgress): void => {
    Promise.resolve(onProgress(p)).catch(() => undefined);
  };
  const { settings } = deps;

  progress({ phase: 'connecting', percent: 1 });
  // Connect first: a wrong host key or an unreachable MA130 fails before any lock or dump.
  if (deps.ma130) return deps.ma130.use((conn) => backupOver(conn, deps, req, progress));
  const conn = await Ma130Connection.connect(settings.ma130);
  try {
    return await backupOver(conn, deps, req, progress);
  } finally {
    conn.close();
  }
}

async function backupOver(
  conn: Ma130Connection,
  deps: BackupDeps,
  req: BackupRequest,
  progress: (p: BackupProgress) => void,
): Promise<BackupResult> {
  const started = Date.now();
  const { settings, keyring } = deps;
  const remotePath = backupRemotePath(settings.ma130.basePath, req);
  const partPath = `${remotePath}.part`;
  const key = keyring.current;
  const chunkBytes = settings.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  let uploaded = false;
  try {
    await conn.mkdirp(path.posix.dirname(remotePath));
    const pgDump = await pgDumpVersion(settings.pgBinDir);

    const dumped = await withTenantLock(deps.ownerPool, req.tenantId, async (client) => {
      const ns = await client.query<{ oid: string }>('SELECT oid FROM pg_namespace WHERE nspname = $1', [
        req.schemaName,
      ]);
      if (ns.rowCount === 0) throw new PermanentBackupError(`tenant schema ${req.schemaName} does not exist`);
      const serverVersion = (await client.query<{ v: string }>('SHOW server_version')).rows[0]?.v ?? '';
      // Heap bytes approximate the SQL text (for the progress bar only).
      const size = await client.query<{ bytes: string | null }>(
        `SELECT sum(pg_relation_size(c.oid))::bigint AS bytes
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [req.schemaName],
      );
      const estimate = Number(size.rows[0]?.bytes ?? 0);
      progress({ phase: 'dumping', percent: 5, bytes: 0 });

      const dump = spawnPgDump({
        url: settings.ownerUrl,
        schema: req.schemaName,
        lockWaitTimeoutMs: settings.lockWaitTimeoutMs,
        binDir: settings.pgBinDir,
      });
      const dumpErr = stderrTail(dump);
      const dumpExit = exited(dump);
      dumpExit.catch(() => undefined);
      const raw = new ByteCounter((bytes) => {
        const share = estimate > 0 ? Math.min(1, bytes / estimate) : 0.5;
        progress({ phase: 'dumping', percent: Math.round(5 + share * 80), bytes });
      });
      const rows = new CopyRowCounter();
      const gz = new ByteCounter();
      const sha = new Sha256Meter();
      try {
        const upload = await conn.createUpload(partPath);
        uploaded = true;
        await pipeline(
          dump.stdout as NodeJS.ReadableStream,
          raw,
          rows,
          // 64 KiB output chunks (default 16 KiB): a quarter of the calls downstream.
          createGzip({ level: settings.gzipLevel, chunkSize: 64 * 1024 }),
          gz,
          new EncryptStream(key, chunkBytes),
          sha,
          upload,
        );
        const exit = await dumpExit;
        if (exit.code !== 0) {
          throw new Error(`pg_dump failed (${String(exit.code ?? exit.signal)}): ${dumpErr().slice(-500)}`);
        }
      } catch (err) {
        dump.kill('SIGKILL');
        throw err;
      }
      return {
        rowCounts: rows.counts,
        serverVersion,
        raw: raw.bytes,
        gz: gz.bytes,
        sha256: sha.digest(),
        size: sha.bytes,
      };
    });

    progress({ phase: 'verifying', percent: 88 });
    const remote = await conn.sha256(partPath);
    if (remote.size !== dumped.size || remote.sha256 !== dumped.sha256) {
      throw new Error(
        `remote copy differs from what was sent (size ${remote.size} vs ${dumped.size}, sha256 ${remote.sha256} vs ${dumped.sha256})`,
      );
    }
    progress({ phase: 'finalizing', percent: 96 });
    await conn.rename(partPath, remotePath);
    const manifest = signManifest(
      {
        format: 'tradesage-tenant-backup',
        backupId: req.backupId,
        tenantId: req.tenantId,
        schema: req.schemaName,
        type: req.type ?? null,
        createdAt: req.startedAt.toISOString(),
        completedAt: new Date().toISOString(),
        file: path.posix.basename(remotePath),
        sha256: dumped.sha256,
        sizeBytes: dumped.size,
        dumpBytes: dumped.raw,
        gzipBytes: dumped.gz,
        gzipLevel: settings.gzipLevel,
        encryption: { algorithm: 'AES-256-GCM', format: 'TSBK/1', keyId: key.id, chunkBytes },
        pgDumpVersion: pgDump,
        serverVersion: dumped.serverVersion,
        rowCounts: dumped.rowCounts,
      },
      key,
    );
    const manifestPath = manifestPathOf(remotePath);
    await conn.writeAtomic(manifestPath, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
    progress({ phase: 'done', percent: 100 });
    deps.logger?.info(
      { tenantId: req.tenantId, backupId: req.backupId, bytes: dumped.size, ms: Date.now() - started },
      'tenant backup verified',
    );
    return { remotePath, manifestPath, manifest, durationMs: Date.now() - started };
  } catch (err) {
    // Best effort: the retry overwrites the same .part anyway, and a lost connection cannot delete.
    if (uploaded) await conn.unlink(partPath).catch(() => undefined);
    throw err;
  }
}

/** A private temp folder (restore downloads). */
export function makeTempDir(parent: string): string {
  return mkdtempSync(path.join(parent, 'tradesage-restore-'));
}
