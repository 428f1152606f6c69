/**
 * The tenants service's and worker's own settings: provisioning, tenant creation limits, and the
 * backups to the MA130. Validated with the kernel by lib/config's `loadConfig(env, tenantsConfig)`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  bool,
  ConfigError,
  configSection,
  loadConfig,
  port,
  positiveInt,
  PROJECT_ROOT,
  type ConfigWith,
} from '../../../lib/config.js';

/** Schemas kept built ahead of sign-up unless TENANT_POOL_SIZE says otherwise. */
export const TENANT_POOL_SIZE_DEFAULT = 8;

export const tenantsConfig = configSection(
  {
    /** Tenants created per client IP per window (`provisionTenant`, REST provision), before RATE_LIMITED. */
    TENANT_CREATE_THROTTLE_PER_IP: positiveInt.default(10),
    TENANT_CREATE_THROTTLE_WINDOW_SECONDS: positiveInt.default(3600),
    /** Organizations one user may own (OWNER memberships); beyond it QUOTA_EXCEEDED. */
    TENANTS_MAX_OWNED_PER_USER: positiveInt.default(10),
    TENANT_TEMPLATES_DIR: z.string().default(path.join(PROJECT_ROOT, 'schema', 'templates')),
    /**
     * Provisioning jobs (and tenant migrations) one worker runs at once. Each builds a schema's tables
     * and indexes, and PostgreSQL 15 fsyncs every index it builds: run side by side, a burst of
     * registrations queued other tenants' commits behind those syncs (B's p99 4-5x worse at 4 than at
     * 1 in bench/noisy-neighbour.ts). A burst of sign-ups waits its turn instead.
     */
    PROVISIONING_CONCURRENCY: positiveInt.default(1),
    /**
     * Tenant schemas (of DEFAULT_TENANT_TEMPLATE) the worker keeps built ahead of sign-up
     * (jobs/schema-pool.ts): provisioning renames one instead of building its tables and indexes, so a
     * burst of sign-ups causes no index builds (and no index fsyncs) while it lasts. 0: off.
     */
    TENANT_POOL_SIZE: z.coerce.number().int().min(0).max(1000).default(TENANT_POOL_SIZE_DEFAULT),
    /**
     * Pause between refill rounds; each round builds at most one schema, so the pool refills at a
     * steady pace after a burst instead of in one. Rounds wait while the worker provisions a tenant.
     */
    TENANT_POOL_REFILL_INTERVAL_MS: positiveInt.default(2000),
    JOB_ATTEMPTS: positiveInt.default(5),
    JOB_BACKOFF_MS: positiveInt.default(1000),
    PAPER_STARTING_CASH: z
      .string()
      .regex(/^\d+(\.\d+)?$/)
      .default('100000'),
    /**
     * Niceness the tenants worker runs at (0-19; its pg_dump, gzip and encryption inherit it), so
     * provisioning and backups yield the CPU to the request-serving services on a shared host.
     */
    TENANTS_WORKER_NICE: z.coerce.number().int().min(0).max(19).default(10),
    /** Tenant schemas migrated per batch by the migrate-tenants job. */
    TENANT_MIGRATION_BATCH_SIZE: positiveInt.default(50),
    /** MA130 backup host (SFTP over SSH, key authentication; the seed's names). */
    MA130_HOST: z.string().min(1).default('127.0.0.1'),
    MA130_PORT: port.default(22),
    MA130_USERNAME: z.string().min(1).default('tradesage_backup'),
    /** Private key of the backup account (OpenSSH format); relative paths are from the project root. */
    MA130_KEY_PATH: z.string().min(1).default('keys/ma130_rsa'),
    /** Absolute folder on the MA130 under which `YYYY/MM/DD/backup_...sql.gz.enc` files are written. */
    MA130_BACKUP_PATH: z.string().startsWith('/').default('/data/tradesage/backups'),
    /**
     * Pinned host key of the MA130, `SHA256:<base64>` as `ssh-keygen -lf` prints it. Required for
     * backups: a connection whose host key differs is refused (a permanent failure, never retried).
     */
    MA130_HOST_KEY_SHA256: z
      .string()
      .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'expected SHA256:<43 base64 characters> (ssh-keygen -lf)')
      .optional(),
    /**
     * The other way to pin the MA130's host key: its public key file (one OpenSSH line, e.g.
     * `ssh_host_ed25519_key.pub`), read at startup; relative paths are from the project root. Used
     * when MA130_HOST_KEY_SHA256 is not set (docker-compose's `ma130` service shares its key this way).
     */
    MA130_HOST_PUBLIC_KEY_PATH: z.string().min(1).optional(),
    /** TCP connect + SSH handshake timeout. */
    MA130_CONNECT_TIMEOUT_MS: positiveInt.default(20_000),
    /**
     * How often the tenants worker probes the MA130 (connect, write, read back, delete a probe file)
     * for its non-fatal /ready check and `tenants_ma130_reachable`.
     */
    MA130_CHECK_INTERVAL_MS: positiveInt.default(60_000),
    /**
     * Backup encryption keys `id:base64(32 bytes)`, comma-separated, oldest first: the last one
     * encrypts, all of them decrypt (key rotation). When unset, BACKUP_KEY_PATH is read instead.
     */
    BACKUP_ENCRYPTION_KEYS: z.string().optional(),
    /** Key file: one key per line (`id:base64` or bare base64, whose id is derived), last one encrypts. */
    BACKUP_KEY_PATH: z.string().min(1).default('keys/backup.key'),
    /** gzip level of backups (the seed says 9; 1 or 6 trade size for speed, see BENCHMARKS.md). */
    BACKUP_GZIP_LEVEL: z.coerce.number().int().min(1).max(9).default(9),
    /** Nightly backup schedule (cron, BACKUP_CRON_TZ), off-peak by default. */
    BACKUP_CRON: z.string().min(9).default('30 2 * * *'),
    BACKUP_CRON_TZ: z.string().min(1).default('UTC'),
    /** Whether the worker upserts the nightly schedule (false removes it). */
    BACKUP_SCHEDULE_ENABLED: bool.default(true),
    /** Backups running at once in one worker (each runs a pg_dump and a gzip). */
    BACKUP_CONCURRENCY: positiveInt.default(2),
    /** Attempts of a backup, restore or clone job, and the first retry delay (exponential, jittered). */
    BACKUP_JOB_ATTEMPTS: positiveInt.default(5),
    BACKUP_RETRY_DELAY_MS: positiveInt.default(30_000),
    /**
     * BullMQ lock of backup and restore jobs: renewed every half of it while the job runs; a job whose
     * worker died is picked up again after about this long (stalled-job recovery).
     */
    BACKUP_JOB_LOCK_MS: z.coerce.number().int().min(1000).default(30_000),
    /** Retention: newest backup of each of the last N days / ISO weeks / months is kept. */
    BACKUP_RETENTION_DAILY: z.coerce.number().int().min(0).default(7),
    BACKUP_RETENTION_WEEKLY: z.coerce.number().int().min(0).default(4),
    BACKUP_RETENTION_MONTHLY: z.coerce.number().int().min(0).default(12),
    /** pg_dump --lock-wait-timeout, and the restore's lock_timeout. */
    BACKUP_LOCK_WAIT_TIMEOUT_MS: positiveInt.default(30_000),
    /** A tenant whose last verified backup is older than this is DEGRADED (health, alerts). */
    BACKUP_STALE_AFTER_HOURS: positiveInt.default(36),
    /** Folder for restore downloads (verified before decrypting); unset: the OS temp folder. */
    BACKUP_TMP_DIR: z.string().optional(),
    /** Folder of pg_dump and psql (matching the server's major version); unset: the PATH. */
    PG_BIN_DIR: z.string().optional(),
    /** Size a tenant schema may reach; health and alerts warn from 80% of it. */
    TENANT_SCHEMA_QUOTA_BYTES: positiveInt.default(5 * 1024 ** 3),
    /**
     * MANUAL backups a tenant may request per UTC day through the API (QUOTA_EXCEEDED beyond it, with
     * retryAfter until the next UTC day). Scheduled and initial backups are the platform's and never count.
     */
    BACKUP_MANUAL_MAX_PER_DAY: positiveInt.default(10),
  },
  {
    finish: (c) => {
      // The host key may be pinned by its public key file (compose's `ma130` service shares it so).
      if (c.MA130_HOST_KEY_SHA256 !== undefined || c.MA130_HOST_PUBLIC_KEY_PATH === undefined) return c;
      const file = path.resolve(PROJECT_ROOT, c.MA130_HOST_PUBLIC_KEY_PATH);
      try {
        return { ...c, MA130_HOST_KEY_SHA256: sshFingerprint(readFileSync(file, 'utf8')) };
      } catch (err) {
        throw new ConfigError([
          `MA130_HOST_PUBLIC_KEY_PATH: cannot read an OpenSSH public key from ${file} (${err instanceof Error ? err.message : String(err)})`,
        ]);
      }
    },
  },
);

/** The kernel and the tenants section: what the tenants service, worker and migrate job read. */
export type TenantsConfig = ConfigWith<[typeof tenantsConfig]>;

/** Validates the kernel and the tenants section (default: the process environment). */
export function loadTenantsConfig(env?: Record<string, string | undefined>): TenantsConfig {
  return loadConfig(env, tenantsConfig);
}

/**
 * `SHA256:<base64 without padding>` of an OpenSSH public key line (`<type> <base64> [comment]`), as
 * `ssh-keygen -lf` prints it: the form MA130_HOST_KEY_SHA256 pins.
 */
export function sshFingerprint(publicKeyLine: string): string {
  const blob = publicKeyLine.trim().split(/\s+/)[1];
  if (!blob) throw new Error('not an OpenSSH public key line');
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}
