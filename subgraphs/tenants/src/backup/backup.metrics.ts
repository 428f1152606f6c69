/**
 * Backup metrics of the tenants worker. Labels stay low-cardinality: backup type, result, failure
 * class; nothing per tenant except the bounded `tenant_schema_size_bytes` top list. Fleet gauges
 * (stale tenants, tenants near their quota) are read from the database when scraped, at most once a
 * minute, so they are right whichever worker did the work.
 */
import { Counter, Gauge, Histogram, type Registry } from '../../../../lib/metrics.js';
import { BACKUP_TYPES } from '../db/schema.js';

export interface BackupMetrics {
  duration: Histogram<'type' | 'result'>;
  bytes: Histogram<'type'>;
  failures: Counter<'type' | 'reason'>;
  /** A backup was verified just now (tenant_backup_last_success_timestamp_seconds). */
  recordSuccess(): void;
  restores: Counter<'kind' | 'result'>;
}

/** What the scrape-time gauges read (from the database). */
export interface FleetReadings {
  configured: boolean;
  /** Unix seconds of the newest verified backup of any tenant (0: none). */
  lastSuccessSeconds: number;
  staleTenants: number;
  oldestSuccessAgeSeconds: number;
  nearQuotaTenants: number;
  largestSchemas: { schema: string; bytes: number }[];
  quotaBytes: number;
}

/** Tenants listed by `tenant_schema_size_bytes` (the largest ones only, to bound cardinality). */
export const SCHEMA_SIZE_TOP = 10;

/**
 * Registers the backup metrics.
 * @param read fleet readings for the scrape-time gauges (cached for a minute; errors keep old values)
 */
export function createBackupMetrics(
  registry: Registry,
  read: () => Promise<FleetReadings>,
  onError: (err: unknown) => void,
): BackupMetrics {
  let cache: { at: number; value: Promise<FleetReadings> } | undefined;
  const readings = async (): Promise<FleetReadings | undefined> => {
    if (!cache || Date.now() - cache.at > 60_000) cache = { at: Date.now(), value: read() };
    try {
      return await cache.value;
    } catch (err) {
      cache = undefined;
      onError(err);
      return undefined;
    }
  };
  const fleetGauge = (name: string, help: string, pick: (r: FleetReadings) => number): Gauge =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const r = await readings();
        if (r) this.set(pick(r));
      },
    });
  let localSuccess = 0;
  new Gauge({
    name: 'tenant_backup_last_success_timestamp_seconds',
    help: 'Unix time of the newest verified backup of any tenant (from the database, or this worker if newer)',
    registers: [registry],
    async collect() {
      const r = await readings();
      this.set(Math.max(localSuccess, r?.lastSuccessSeconds ?? 0));
    },
  });
  fleetGauge('tenant_backups_configured', '1 when an MA130 is configured (pinned host key), else 0', (r) =>
    r.configured ? 1 : 0,
  );
  fleetGauge(
    'tenant_backups_stale_tenants',
    'ACTIVE tenants whose newest verified backup is older than BACKUP_STALE_AFTER_HOURS (or missing)',
    (r) => r.staleTenants,
  );
  fleetGauge(
    'tenant_backup_oldest_success_age_seconds',
    'Age of the oldest "newest verified backup" among ACTIVE tenants, in seconds',
    (r) => r.oldestSuccessAgeSeconds,
  );
  fleetGauge(
    'tenants_near_quota',
    'Tenants whose schema uses at least 80% of TENANT_SCHEMA_QUOTA_BYTES',
    (r) => r.nearQuotaTenants,
  );
  fleetGauge(
    'tenant_schema_quota_bytes',
    'Size quota of a tenant schema (TENANT_SCHEMA_QUOTA_BYTES)',
    (r) => r.quotaBytes,
  );
  new Gauge({
    name: 'tenant_schema_size_bytes',
    help: `Size of the ${SCHEMA_SIZE_TOP} largest tenant schemas, in bytes`,
    labelNames: ['schema'],
    registers: [registry],
    async collect() {
      const r = await readings();
      if (!r) return;
      this.reset();
      for (const s of r.largestSchemas.slice(0, SCHEMA_SIZE_TOP)) this.set({ schema: s.schema }, s.bytes);
    },
  });
  const failures = new Counter({
    name: 'tenant_backup_failures_total',
    help: 'Failed backup attempts, by type and reason (transient: will retry, final: retries exhausted, permanent: not retried)',
    labelNames: ['type', 'reason'],
    registers: [registry],
  });
  // Every series from 0: a series born at its first failure has no earlier sample, so increase()
  // would miss that failure and TenantBackupFailed would not fire for the first one after a restart.
  for (const type of BACKUP_TYPES)
    for (const reason of ['transient', 'final', 'permanent']) failures.inc({ type, reason }, 0);
  const restores = new Counter({
    name: 'tenant_restores_total',
    help: 'Finished restores, by kind (restore, clone) and result (success, failure)',
    labelNames: ['kind', 'result'],
    registers: [registry],
  });
  for (const kind of ['restore', 'clone'])
    for (const result of ['success', 'failure']) restores.inc({ kind, result }, 0);
  return {
    duration: new Histogram({
      name: 'tenant_backup_duration_seconds',
      help: 'Duration of backup attempts in seconds, by type and result (success, error)',
      labelNames: ['type', 'result'],
      buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    }),
    bytes: new Histogram({
      name: 'tenant_backup_bytes',
      help: 'Size of verified backup files (encrypted, compressed) in bytes, by type',
      labelNames: ['type'],
      buckets: [1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10],
      registers: [registry],
    }),
    failures,
    recordSuccess: () => {
      localSuccess = Date.now() / 1000;
    },
    restores,
  };
}

/** Limits a backup request through the API can be refused by (the `limit` label). */
export type BackupRequestLimit = 'backup_type' | 'backups_per_day';

/** `tenant_backup_refusals_total{limit}`, on the tenants API service (where requests arrive). */
export function createBackupRefusalsCounter(registry: Registry): Counter<'limit'> {
  return new Counter({
    name: 'tenant_backup_refusals_total',
    help: 'Backup requests refused through the API, by limit (backup_type, backups_per_day)',
    labelNames: ['limit'],
    registers: [registry],
  });
}
