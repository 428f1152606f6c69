/**
 * SQL on `tenancy.backups` for the backup jobs and the API. Workers write in the system scope (RLS,
 * lib/db withPlatform); reads for users go through TenantRepository.listBackups in their own scope.
 * Every state change is conditional on the current state, so a stale or repeated job step cannot move
 * a row backwards (a VERIFIED row never becomes RUNNING or FAILED again).
 */
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type pg from 'pg';
import { withPlatform, type Db, type PlatformScope } from '../../../../lib/db.js';
import { backups, type BackupRow, type BackupStatus, type BackupType } from '../db/schema.js';

const SYSTEM: PlatformScope = { kind: 'system' };

/** What a verified backup records (from its manifest). */
export interface VerifiedBackup {
  path: string;
  sizeBytes: number;
  sha256: string;
  keyId: string;
  gzipLevel: number;
  dumpBytes: number;
  rowCounts: Record<string, number>;
}

/** The outcome of {@link BackupRepository.admitManual}. */
export type ManualAdmission =
  | { kind: 'created'; row: BackupRow }
  | { kind: 'pending'; row: BackupRow }
  | { kind: 'daily-cap'; today: number; retryAfterSeconds: number };

/** Per tenant: its newest backup and its newest verified one (health). */
export interface BackupSummary {
  last: BackupRow | undefined;
  lastVerified: BackupRow | undefined;
}

export class BackupRepository {
  constructor(private readonly pool: pg.Pool) {}

  private run<T>(fn: (tx: Db) => Promise<T>, scope: PlatformScope = SYSTEM): Promise<T> {
    return withPlatform(this.pool, scope, (tx) => fn(tx));
  }

  /** Inserts a QUEUED row unless one with this id exists; returns the row either way. */
  async createQueued(row: {
    id: string;
    tenantId: string;
    type: BackupType;
    jobId: string;
  }): Promise<BackupRow> {
    return this.run(async (tx) => {
      await tx
        .insert(backups)
        .values({ ...row, status: 'QUEUED' })
        .onConflictDoNothing({ target: backups.id });
      const [found] = await tx.select().from(backups).where(eq(backups.id, row.id)).limit(1);
      if (!found) throw new Error('backup row vanished');
      return found;
    });
  }

  /** Several QUEUED rows at once (nightly fan-out); existing ids are left alone. */
  async createQueuedMany(
    rows: { id: string; tenantId: string; type: BackupType; jobId: string }[],
  ): Promise<void> {
    if (rows.length === 0) return;
    await this.run(async (tx) => {
      await tx
        .insert(backups)
        .values(rows.map((r) => ({ ...r, status: 'QUEUED' as const })))
        .onConflictDoNothing({ target: backups.id });
    });
  }

  findById(id: string): Promise<BackupRow | undefined> {
    return this.run(async (tx) => (await tx.select().from(backups).where(eq(backups.id, id)).limit(1))[0]);
  }

  /**
   * A run starts: QUEUED or RUNNING (a stalled run restarted) -> RUNNING, one more attempt. The first
   * run stamps `started_at` (it names the file; later runs keep it, so they write the same path).
   * @returns the row, or undefined when it is VERIFIED, FAILED or PRUNED already (nothing to do)
   */
  startRun(id: string): Promise<BackupRow | undefined> {
    return this.run(async (tx) => {
      const [row] = await tx
        .update(backups)
        .set({
          status: 'RUNNING',
          attempts: sql`${backups.attempts} + 1`,
          startedAt: sql`CASE WHEN ${backups.attempts} = 0 THEN now() ELSE ${backups.startedAt} END`,
          progress: sql`GREATEST(${backups.progress}, 1)`,
        })
        .where(and(eq(backups.id, id), inArray(backups.status, ['QUEUED', 'RUNNING'])))
        .returning();
      return row;
    });
  }

  /** Where the file goes (known once the run started). */
  async setPath(id: string, path: string): Promise<void> {
    await this.run((tx) => tx.update(backups).set({ path }).where(eq(backups.id, id)));
  }

  async setProgress(id: string, progress: number): Promise<void> {
    const p = Math.max(0, Math.min(99, Math.round(progress)));
    await this.run((tx) =>
      tx
        .update(backups)
        .set({ progress: p })
        .where(and(eq(backups.id, id), eq(backups.status, 'RUNNING'))),
    );
  }

  /** RUNNING -> VERIFIED with what the manifest says. Only after the read-back check and the rename. */
  async markVerified(id: string, v: VerifiedBackup): Promise<void> {
    await this.run((tx) =>
      tx
        .update(backups)
        .set({
          status: 'VERIFIED',
          path: v.path,
          sizeBytes: v.sizeBytes,
          sha256: v.sha256,
          keyId: v.keyId,
          gzipLevel: v.gzipLevel,
          dumpBytes: v.dumpBytes,
          rowCounts: v.rowCounts,
          progress: 100,
          error: null,
          completedAt: sql`now()`,
          verifiedAt: sql`now()`,
        })
        .where(and(eq(backups.id, id), inArray(backups.status, ['QUEUED', 'RUNNING']))),
    );
  }

  /** An attempt failed and another will follow: back to QUEUED, with the reason. */
  async markRetrying(id: string, error: string): Promise<void> {
    await this.run((tx) =>
      tx
        .update(backups)
        .set({ status: 'QUEUED', error: error.slice(0, 2000) })
        .where(and(eq(backups.id, id), inArray(backups.status, ['QUEUED', 'RUNNING']))),
    );
  }

  /** Failed for good (permanent fault, or the last attempt failed). */
  async markFailed(id: string, error: string): Promise<void> {
    await this.run((tx) =>
      tx
        .update(backups)
        .set({ status: 'FAILED', error: error.slice(0, 2000), completedAt: sql`now()` })
        .where(and(eq(backups.id, id), inArray(backups.status, ['QUEUED', 'RUNNING']))),
    );
  }

  /** VERIFIED -> PRUNED (retention deleted the file). */
  async markPruned(id: string): Promise<void> {
    await this.run((tx) =>
      tx
        .update(backups)
        .set({ status: 'PRUNED', prunedAt: sql`now()` })
        .where(and(eq(backups.id, id), eq(backups.status, 'VERIFIED'))),
    );
  }

  /** Every VERIFIED backup (retention), oldest first. */
  listVerified(): Promise<Pick<BackupRow, 'id' | 'tenantId' | 'startedAt' | 'path'>[]> {
    return this.run((tx) =>
      tx
        .select({
          id: backups.id,
          tenantId: backups.tenantId,
          startedAt: backups.startedAt,
          path: backups.path,
        })
        .from(backups)
        .where(eq(backups.status, 'VERIFIED'))
        .orderBy(asc(backups.startedAt)),
    );
  }

  /**
   * Admits a MANUAL backup request under the tenant's quotas, atomically: a transaction-scoped advisory
   * lock per tenant (not the tenant DDL lock a running backup holds) serializes concurrent requests, so
   * two of them can never both see "nothing pending" or both take the last slot of the day.
   * - a MANUAL backup of the tenant still QUEUED or RUNNING: returned as `pending` (the request joins it);
   * - `maxPerDay` MANUAL backups since 00:00 UTC already: `daily-cap`, with the seconds to the next UTC day;
   * - otherwise a QUEUED row is inserted: `created`.
   */
  admitManual(
    row: { id: string; tenantId: string; jobId: string },
    maxPerDay: number,
  ): Promise<ManualAdmission> {
    return this.run(async (tx) => {
      await tx.execute(
        sql`SELECT pg_advisory_xact_lock(hashtextextended(${`tradesage:manual-backup:${row.tenantId}`}, 0))`,
      );
      const [pending] = await tx
        .select()
        .from(backups)
        .where(
          and(
            eq(backups.tenantId, row.tenantId),
            eq(backups.type, 'MANUAL'),
            inArray(backups.status, ['QUEUED', 'RUNNING'] satisfies BackupStatus[]),
          ),
        )
        .orderBy(desc(backups.startedAt))
        .limit(1);
      if (pending) return { kind: 'pending', row: pending };
      // started_at is the request time until the first run, then that run's start: a request queued
      // just before midnight may count for the next day, never for none.
      const counted = await tx.execute<{ n: number; retry: number }>(sql`
        SELECT count(*)::int AS n,
               extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day'
                                  - (now() AT TIME ZONE 'UTC'))::float8 AS retry
          FROM ${backups}
         WHERE ${backups.tenantId} = ${row.tenantId}
           AND ${backups.type} = 'MANUAL'
           AND ${backups.startedAt} >= (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')`);
      const today = counted.rows[0]?.n ?? 0;
      if (today >= maxPerDay) {
        return { kind: 'daily-cap', today, retryAfterSeconds: counted.rows[0]?.retry ?? 86_400 };
      }
      const [created] = await tx
        .insert(backups)
        .values({ ...row, type: 'MANUAL', status: 'QUEUED' })
        .returning();
      if (!created) throw new Error('backup row was not inserted');
      return { kind: 'created', row: created };
    });
  }

  /** Deletes a QUEUED row whose job could not be queued (nothing ran; the request did not happen). */
  async deleteQueued(id: string): Promise<void> {
    await this.run((tx) => tx.delete(backups).where(and(eq(backups.id, id), eq(backups.status, 'QUEUED'))));
  }

  /** The newest backup and the newest verified backup of a tenant. */
  summary(tenantId: string, scope: PlatformScope = SYSTEM): Promise<BackupSummary> {
    return this.run(async (tx) => {
      const [last] = await tx
        .select()
        .from(backups)
        .where(eq(backups.tenantId, tenantId))
        .orderBy(desc(backups.startedAt), desc(backups.id))
        .limit(1);
      const [lastVerified] = await tx
        .select()
        .from(backups)
        .where(and(eq(backups.tenantId, tenantId), inArray(backups.status, ['VERIFIED'])))
        .orderBy(desc(backups.startedAt), desc(backups.id))
        .limit(1);
      return { last, lastVerified };
    }, scope);
  }

  /**
   * Fleet view for the scrape-time metrics: newest verified backup overall; ACTIVE tenants whose newest
   * verified backup is older than `staleSeconds` (or that have none, counted from provisioning) and the
   * oldest such age; schema sizes (tenants at >= 80% of `quotaBytes`, and the largest ones).
   */
  async fleet(
    staleSeconds: number,
    quotaBytes: number,
    top: number,
  ): Promise<{
    lastSuccessSeconds: number;
    staleTenants: number;
    oldestSuccessAgeSeconds: number;
    nearQuotaTenants: number;
    largestSchemas: { schema: string; bytes: number }[];
  }> {
    return this.run(async (tx) => {
      const ages = await tx.execute<{ last: number | null; stale: number; oldest: number | null }>(sql`
        WITH per_tenant AS (
          SELECT t.id,
                 max(b.completed_at) AS last_ok,
                 extract(epoch FROM now() - coalesce(max(b.completed_at), t.provisioned_at, t.created_at)) AS age
            FROM tenancy.tenants t
            LEFT JOIN tenancy.backups b ON b.tenant_id = t.id AND b.status = 'VERIFIED'
           WHERE t.status = 'ACTIVE'
           GROUP BY t.id
        )
        SELECT extract(epoch FROM (SELECT max(completed_at) FROM tenancy.backups WHERE status IN ('VERIFIED', 'PRUNED')))::float8 AS last,
               (SELECT count(*) FROM per_tenant WHERE age > ${staleSeconds})::int AS stale,
               (SELECT max(age) FROM per_tenant)::float8 AS oldest`);
      const sizes = await tx.execute<{ schema: string; bytes: number }>(sql`
        SELECT t.schema_name AS schema, coalesce(sum(pg_total_relation_size(c.oid)), 0)::float8 AS bytes
          FROM tenancy.tenants t
          JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema_name
          LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'm')
         WHERE t.status IN ('ACTIVE', 'SUSPENDED')
         GROUP BY t.schema_name
         ORDER BY 2 DESC`);
      const a = ages.rows[0];
      return {
        lastSuccessSeconds: a?.last ?? 0,
        staleTenants: a?.stale ?? 0,
        oldestSuccessAgeSeconds: a?.oldest ?? 0,
        nearQuotaTenants: sizes.rows.filter((r) => r.bytes >= 0.8 * quotaBytes).length,
        largestSchemas: sizes.rows.slice(0, top),
      };
    });
  }
}
