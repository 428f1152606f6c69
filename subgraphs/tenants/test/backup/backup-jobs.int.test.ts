/**
 * Backups end to end in the tenants service and worker (real Postgres, Redis, OpenSSH): the INITIAL
 * backup after provisioning, backupTenant and the seed's REST call with progress and job lookup,
 * who may ask, restoreTenant and cloneTenant, the nightly fan-out (idempotent), retention, the one
 * nightly job scheduler, tenant health with backup freshness, and the backup metrics.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantSchemaName } from '../../../../lib/db.js';
import { adminUrlOf } from '../../../../test/support/env.js';
import { startTestSshd, type TestSshd } from '../../../../test/support/sshd.js';
import { scheduledBackupId } from '../../src/backup/backup.jobs.js';
import { JOB_KINDS, NIGHTLY_BACKUPS_SCHEDULER, QUEUES } from '../../src/jobs/queues.js';
import { provisionActive, startHarness, type Harness } from '../support/harness.js';
import { dumpSchema, fillTenant, listFiles, newKeyEntry } from './support/backup-fixtures.js';
import { eventually, finishedJob } from '../../../../test/support/wait.js';

const JOB = 'query($id: ID!) { job(id: $id) { id kind state progress error result } }';
const BACKUP =
  'mutation($id: ID!, $type: BackupType) { backupTenant(tenantId: $id, backupType: $type) { id kind state } }';
const BACKUPS =
  'query($id: ID!) { tenant(id: $id) { backups { id type status path sizeBytes sha256 progress startedAt completedAt verifiedAt error } } }';
const HEALTH = `query($id: ID!) { tenant(id: $id) { health { status reasons rowCounts activeConnections quotaBytes
  lastBackupStatus lastBackupAt lastVerifiedBackupAt lastVerifiedBackupAgeSeconds schemaSizeBytes } } }`;

interface BackupView {
  id: string;
  type: string;
  status: string;
  path: string | null;
  sizeBytes: number | null;
  sha256: string | null;
  progress: number;
  verifiedAt: string | null;
}

let dir: string;
let sshd: TestSshd;
let h: Harness;
const owner = randomUUID();
const trader = randomUUID();
const stranger = randomUUID();
let tenantId: string;
let ownerToken: string;
let adminToken: string;

const code = (r: { errors?: { extensions?: { code?: string } }[] | undefined }): string | undefined =>
  r.errors?.[0]?.extensions?.code;

async function backupsOf(id: string, token = ownerToken): Promise<BackupView[]> {
  const r = await h.gql<{ tenant: { backups: BackupView[] } }>(BACKUPS, { id }, token);
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return r.data.tenant.backups;
}

async function finished(
  jobId: string,
  token = ownerToken,
): Promise<{ state: string; progress: number; error: string | null; result: unknown }> {
  return eventually(async () => {
    const r = await h.gql<{
      job: { state: string; progress: number; error: string | null; result: unknown };
    }>(JOB, { id: jobId }, token);
    const j = r.data?.job;
    return j && (j.state === 'completed' || j.state === 'failed') ? j : undefined;
  }, `job ${jobId}`);
}

async function sha256File(p: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(p))
    .digest('hex');
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-backup-jobs-'));
  sshd = await startTestSshd(dir);
  h = await startHarness('backup_jobs', {
    ...sshd.env,
    BACKUP_ENCRYPTION_KEYS: newKeyEntry('jobs-key'),
    BACKUP_GZIP_LEVEL: '1',
    BACKUP_TMP_DIR: dir,
    BACKUP_RETRY_DELAY_MS: '200',
    BACKUP_CRON: '0 3 * * *',
    BACKUP_RETENTION_DAILY: '2',
    BACKUP_RETENTION_WEEKLY: '1',
    BACKUP_RETENTION_MONTHLY: '1',
  });
  tenantId = await provisionActive(h, owner, 'Backup Fund');
  await h.admin.query(
    `INSERT INTO tenancy.memberships (tenant_id, user_id, role) VALUES ($1, $2, 'TRADER')`,
    [tenantId, trader],
  );
  ownerToken = await h.token({ userId: owner, tenantId });
  adminToken = await h.token({ userId: randomUUID(), platformAdmin: true });
});

afterAll(async () => {
  await h?.stop();
  await sshd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('INITIAL backup', () => {
  it('is queued once provisioning succeeds and ends VERIFIED, with its file and sha256', async () => {
    const initial = await eventually(async () => {
      const list = await backupsOf(tenantId);
      const b = list.find((x) => x.type === 'INITIAL');
      return b?.status === 'VERIFIED' || b?.status === 'FAILED' ? b : undefined;
    }, 'INITIAL backup');
    expect(initial).toMatchObject({ status: 'VERIFIED', progress: 100 });
    expect(initial.path).toMatch(
      new RegExp(
        `^${sshd.root}/\\d{4}/\\d{2}/\\d{2}/backup_${tenantId}_\\d{8}_\\d{6}_${initial.id}\\.sql\\.gz\\.enc$`,
      ),
    );
    expect(await sha256File(initial.path!)).toBe(initial.sha256);
    expect((await stat(initial.path!)).size).toBe(initial.sizeBytes);
    expect(initial.verifiedAt).not.toBeNull();
  });
});

describe('backupTenant and the REST call', () => {
  it('queues a backup whose job reports progress and completes; the row is VERIFIED', async () => {
    const { ownerPool } = ownerPoolOf();
    await fillTenant({ ownerPool }, tenantSchemaName(tenantId), { bulkRows: 50, bulkBytes: 5000 });
    await ownerPool.end();
    const r = await h.gql<{ backupTenant: { id: string; kind: string } }>(
      BACKUP,
      { id: tenantId },
      ownerToken,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.backupTenant.kind).toBe('backup');
    const jobId = r.data!.backupTenant.id;
    expect(jobId).toMatch(/^backup-[0-9a-f-]{36}$/);
    const job = await finished(jobId);
    expect(job).toMatchObject({ state: 'completed', progress: 100, error: null });
    const backupId = jobId.slice('backup-'.length);
    const row = (await backupsOf(tenantId)).find((b) => b.id === backupId);
    expect(row).toMatchObject({ type: 'MANUAL', status: 'VERIFIED', progress: 100 });
    expect(await sha256File(row!.path!)).toBe(row!.sha256);
    expect((job.result as { sha256?: string }).sha256).toBe(row!.sha256);
  });

  it('answers the seed REST call with 202 and the job; checks the body', async () => {
    const post = (body: unknown, token?: string): Promise<Response> =>
      fetch(`${h.url}/api/v1/schemas/${tenantId}/backup`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
    const ok = await post({ tenant_id: tenantId, backup_type: 'manual' }, ownerToken);
    expect(ok.status).toBe(202);
    const body = (await ok.json()) as { job: { id: string }; backup_id: string; tenant_id: string };
    expect(body.tenant_id).toBe(tenantId);
    expect(body.job.id).toBe(`backup-${body.backup_id}`);
    expect((await finished(body.job.id)).state).toBe('completed');

    expect((await post({ tenant_id: randomUUID(), backup_type: 'manual' }, ownerToken)).status).toBe(400);
    expect((await post({ tenant_id: tenantId, backup_type: 'hourly' }, ownerToken)).status).toBe(400);
    expect((await post({ tenant_id: tenantId, backup_type: 'manual' })).status).toBe(401);
  });

  it('is for platform admins and the tenant OWNER/ADMIN only', async () => {
    const traderToken = await h.token({ userId: trader, tenantId, role: 'TRADER' });
    expect(code(await h.gql(BACKUP, { id: tenantId }, traderToken))).toBe('FORBIDDEN');
    const strangerToken = await h.token({ userId: stranger });
    expect(code(await h.gql(BACKUP, { id: tenantId }, strangerToken))).toBe('NOT_FOUND');
    expect(code(await h.gql(BACKUP, { id: tenantId }))).toBe('UNAUTHENTICATED');
    const r = await h.gql<{ backupTenant: { id: string } }>(BACKUP, { id: tenantId }, adminToken);
    expect(r.errors).toBeUndefined();
    await finished(r.data!.backupTenant.id, adminToken);
    // Others' jobs are invisible.
    expect(code(await h.gql(JOB, { id: r.data!.backupTenant.id }, strangerToken))).toBe('NOT_FOUND');
  });
});

function ownerPoolOf(): { ownerPool: pg.Pool } {
  return { ownerPool: new pg.Pool({ connectionString: h.config.DATABASE_OWNER_URL, max: 2 }) };
}

describe('restoreTenant and cloneTenant', () => {
  it('restores a verified backup over the tenant (dump before == dump after)', async () => {
    const schema = tenantSchemaName(tenantId);
    const adminUrl = adminUrlOf(h.config);
    const r = await h.gql<{ backupTenant: { id: string } }>(BACKUP, { id: tenantId }, ownerToken);
    await finished(r.data!.backupTenant.id);
    const before = await dumpSchema({ adminUrl }, schema);
    await h.admin.query(`UPDATE "${schema}".accounts SET cash = cash + 1`);
    expect(await dumpSchema({ adminUrl }, schema)).not.toBe(before);

    const backupId = r.data!.backupTenant.id.slice('backup-'.length);
    const restore = await h.gql<{ restoreTenant: { id: string; kind: string } }>(
      'mutation($id: ID!) { restoreTenant(backupId: $id) { id kind state } }',
      { id: backupId },
      ownerToken,
    );
    expect(restore.errors).toBeUndefined();
    expect(restore.data!.restoreTenant.kind).toBe('restore');
    const job = await finished(restore.data!.restoreTenant.id);
    expect(job).toMatchObject({ state: 'completed', progress: 100 });
    expect(await dumpSchema({ adminUrl }, schema)).toBe(before);
  });

  it('refuses what cannot be restored: unknown, foreign, not VERIFIED; a TRADER may not', async () => {
    const restore = 'mutation($id: ID!) { restoreTenant(backupId: $id) { id } }';
    expect(code(await h.gql(restore, { id: randomUUID() }, ownerToken))).toBe('NOT_FOUND');
    expect(code(await h.gql(restore, { id: 'nope' }, ownerToken))).toBe('BAD_USER_INPUT');
    const verified = (await backupsOf(tenantId)).find((b) => b.status === 'VERIFIED')!;
    expect(code(await h.gql(restore, { id: verified.id }, await h.token({ userId: stranger })))).toBe(
      'NOT_FOUND',
    );
    const traderToken = await h.token({ userId: trader, tenantId, role: 'TRADER' });
    expect(code(await h.gql(restore, { id: verified.id }, traderToken))).toBe('FORBIDDEN');
    const failedId = randomUUID();
    await h.admin.query(
      `INSERT INTO tenancy.backups (id, tenant_id, type, status, error) VALUES ($1, $2, 'MANUAL', 'FAILED', 'x')`,
      [failedId, tenantId],
    );
    expect(code(await h.gql(restore, { id: failedId }, ownerToken))).toBe('CONFLICT');
  });

  it('clones a backup into a new ACTIVE tenant owned by the caller, with the same data', async () => {
    const verified = (await backupsOf(tenantId)).find((b) => b.status === 'VERIFIED' && b.type === 'MANUAL')!;
    const r = await h.gql<{
      cloneTenant: { tenant: { id: string; status: string }; job: { id: string; kind: string } };
    }>(
      'mutation($id: ID!, $name: String!) { cloneTenant(backupId: $id, organizationName: $name) { tenant { id status } job { id kind } } }',
      { id: verified.id, name: 'Backup Fund (copy)' },
      ownerToken,
    );
    expect(r.errors).toBeUndefined();
    const clone = r.data!.cloneTenant;
    expect(clone.tenant.status).toBe('PROVISIONING');
    expect(clone.job.kind).toBe('clone');
    const job = await finished(clone.job.id);
    expect(job.error).toBeNull();
    expect(job.state).toBe('completed');
    const status = await h.admin.query<{ status: string }>(
      'SELECT status FROM tenancy.tenants WHERE id = $1',
      [clone.tenant.id],
    );
    expect(status.rows[0]?.status).toBe('ACTIVE');
    const rows = await h.admin.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM "${tenantSchemaName(clone.tenant.id)}".accounts)::int AS n`,
    );
    expect(rows.rows[0]?.n).toBe(await countAccountsAt(verified.id));
    // The clone's own role works on it (provisioned around the restored schema).
    const c = await h.app.connect();
    try {
      await c.query('BEGIN');
      await c.query(`SET LOCAL ROLE "${tenantSchemaName(clone.tenant.id)}"`);
      await c.query(`SELECT count(*) FROM "${tenantSchemaName(clone.tenant.id)}".accounts`);
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
  });
});

async function countAccountsAt(backupId: string): Promise<number> {
  const r = await h.admin.query<{ counts: Record<string, number> }>(
    'SELECT row_counts AS counts FROM tenancy.backups WHERE id = $1',
    [backupId],
  );
  return r.rows[0]?.counts['accounts'] ?? -1;
}

describe('nightly backups, retention and the scheduler', () => {
  it('upserts exactly one nightly job scheduler with the configured cron', async () => {
    const q = new Queue(QUEUES.backups, {
      connection: { url: h.config.REDIS_URL },
      prefix: h.config.BULLMQ_PREFIX,
    });
    try {
      const schedulers = await q.getJobSchedulers();
      expect(schedulers.map((s) => [s.key, s.pattern])).toEqual([[NIGHTLY_BACKUPS_SCHEDULER, '0 3 * * *']]);
    } finally {
      await q.close();
    }
  });

  it('retention prunes files and rows beyond the policy, never the newest verified backup', async () => {
    // Age this tenant's verified backups: one per day, going back.
    const rows = await h.admin.query<{ id: string; path: string }>(
      `SELECT id, path FROM tenancy.backups WHERE tenant_id = $1 AND status = 'VERIFIED' ORDER BY started_at DESC`,
      [tenantId],
    );
    expect(rows.rowCount).toBeGreaterThanOrEqual(4);
    for (const [i, r] of rows.rows.entries()) {
      await h.admin.query(
        `UPDATE tenancy.backups SET started_at = now() - make_interval(days => $2::int) WHERE id = $1`,
        [r.id, i * 40],
      );
    }
    // Policy of this file: 2 daily, 1 weekly, 1 monthly. 40 days apart, only the two newest remain.
    const pruned = await h.worker.backups.applyRetention();
    expect(pruned).toBe(rows.rows.length - 2);
    const after = await h.admin.query<{ id: string; status: string }>(
      `SELECT id, status FROM tenancy.backups WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
      [tenantId, rows.rows.map((r) => r.id)],
    );
    const status = new Map(after.rows.map((r) => [r.id, r.status]));
    expect(rows.rows.map((r) => status.get(r.id))).toEqual(
      rows.rows.map((_, i) => (i < 2 ? 'VERIFIED' : 'PRUNED')),
    );
    for (const r of after.rows) {
      const exists = await stat(rows.rows.find((x) => x.id === r.id)!.path).then(
        () => true,
        () => false,
      );
      expect(exists, r.id).toBe(r.status === 'VERIFIED');
    }
  });
  it('queues one SCHEDULED backup per ACTIVE tenant (as the scheduler job); again: nothing more', async () => {
    // The job the scheduler would add, run by the worker: created at 02:00, due at 02:30 (its night).
    const q = new Queue(QUEUES.backups, {
      connection: { url: h.config.REDIS_URL },
      prefix: h.config.BULLMQ_PREFIX,
    });
    const active = await h.admin.query<{ id: string }>(
      `SELECT id FROM tenancy.tenants WHERE status = 'ACTIVE'`,
    );
    try {
      const added = await q.add(JOB_KINDS.nightlyBackups, {}, { jobId: 'nightly-test' });
      const day = new Date(added.timestamp).toISOString().slice(0, 10);
      const done = await finishedJob(q, 'nightly-test', 'completed', 'nightly job');
      expect(done.returnvalue).toMatchObject({ day, tenants: active.rowCount });
      // The same night again (a retry, a second replica): nothing new.
      const again = await h.worker.backups.nightly({
        data: {},
        attemptsMade: 0,
        opts: { delay: 30 * 60_000 },
        name: JOB_KINDS.nightlyBackups,
        timestamp: Date.parse(`${day}T00:00:00Z`),
        updateProgress: () => Promise.resolve(),
      });
      expect(again.day).toBe(day);
      const rows = await h.admin.query<{ id: string }>(
        `SELECT id FROM tenancy.backups WHERE type = 'SCHEDULED'`,
      );
      expect(rows.rows.map((r) => r.id).sort()).toEqual(
        active.rows.map((t) => scheduledBackupId(t.id, day)).sort(),
      );
    } finally {
      await q.close();
    }
    await eventually(async () => {
      const r = await h.admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM tenancy.backups WHERE type = 'SCHEDULED' AND status = 'VERIFIED'`,
      );
      return r.rows[0]?.n === active.rowCount ? true : undefined;
    }, 'scheduled backups verified');
  });
});

describe('health and metrics', () => {
  it('reports row counts, connections and the last backup', async () => {
    const r = await h.gql<{ tenant: { health: Record<string, unknown> } }>(
      HEALTH,
      { id: tenantId },
      ownerToken,
    );
    expect(r.errors).toBeUndefined();
    const health = r.data!.tenant.health;
    expect(health).toMatchObject({ status: 'OK', reasons: [], lastBackupStatus: 'VERIFIED' });
    expect((health['rowCounts'] as Record<string, number>)['accounts']).toBeGreaterThan(1);
    expect(Object.keys(health['rowCounts'] as object)).not.toContain('__migrations_trading');
    expect(health['activeConnections']).toEqual(expect.any(Number));
    expect(health['lastVerifiedBackupAgeSeconds'] as number).toBeLessThan(3600);

    const rest = await fetch(`${h.url}/api/v1/monitoring/${tenantId}/health`, {
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    const body = (await rest.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'OK', last_backup: { status: 'VERIFIED' } });
    expect((body['row_counts'] as Record<string, number>)['accounts']).toBeGreaterThan(1);
  });

  it('turns DEGRADED when the last backup failed', async () => {
    await h.admin.query(
      `INSERT INTO tenancy.backups (id, tenant_id, type, status, error, started_at) VALUES ($1, $2, 'MANUAL', 'FAILED', 'x', now() + interval '1 minute')`,
      [randomUUID(), tenantId],
    );
    const r = await h.gql<{ tenant: { health: { status: string; reasons: string[] } } }>(
      HEALTH,
      { id: tenantId },
      ownerToken,
    );
    expect(r.data!.tenant.health).toMatchObject({ status: 'DEGRADED', reasons: ['the last backup failed'] });
  });

  it('exports the backup metrics on the worker', async () => {
    const text = await (await fetch(`${h.workerUrl}/metrics`)).text();
    expect(text).toMatch(
      /^tenant_backup_duration_seconds_count\{[^}]*type="MANUAL"[^}]*result="success"[^}]*\} [1-9]/m,
    );
    expect(text).toMatch(/^tenant_backup_bytes_count\{[^}]*type="INITIAL"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^tenant_backup_last_success_timestamp_seconds\{[^}]*\} 1\d{9}/m);
    expect(text).toMatch(/^tenant_backups_configured\{[^}]*\} 1$/m);
    expect(text).toMatch(/^tenant_backups_stale_tenants\{[^}]*\} 0$/m);
    expect(text).toContain('# TYPE tenant_backup_failures_total counter');
  });

  it('leaves no partial file under a final name', async () => {
    const files = await listFiles(sshd.root);
    expect(files.filter((f) => f.endsWith('.part'))).toEqual([]);
    for (const f of files.filter((x) => x.endsWith('.sql.gz.enc'))) {
      const r = await h.admin.query<{ status: string; sha256: string }>(
        'SELECT status, sha256 FROM tenancy.backups WHERE path = $1',
        [path.join(sshd.root, f)],
      );
      expect(r.rows[0]?.status, f).toBe('VERIFIED');
      expect(await sha256File(path.join(sshd.root, f))).toBe(r.rows[0]?.sha256);
    }
  });
});
