/**
 * Backups requested through the API (real Postgres, Redis, OpenSSH): only MANUAL backups can be
 * asked for; one queued or running MANUAL backup per tenant, admitted atomically; a daily count per
 * UTC day; fair scheduling: however many manual requests are queued, a nightly backup is taken
 * before them; and restoreTenant of a backup whose manifest was altered on the MA130 fails at once.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantSchemaName } from '../../../../lib/db.js';
import { adminUrlOf } from '../../../../test/support/env.js';
import { startTestSshd, type TestSshd } from '../../../../test/support/sshd.js';
import { JOB_KINDS, QUEUES } from '../../src/jobs/queues.js';
import { provisionActive, startHarness, type Harness } from '../support/harness.js';
import { dumpSchema, newKeyEntry } from './support/backup-fixtures.js';
import { eventually, finishedJob } from '../../../../test/support/wait.js';

const BACKUP =
  'mutation($id: ID!, $type: BackupType) { backupTenant(tenantId: $id, backupType: $type) { id kind state } }';
const MAX_PER_DAY = 3;

let dir: string;
let sshd: TestSshd;
let h: Harness;
let queue: Queue;
const attacker = randomUUID();
const victim = randomUUID();
const counted = randomUUID();
let attackerTenants: string[];
let victimTenant: string;
let countedTenant: string;

interface Err {
  message: string;
  extensions?: { code?: string } & Record<string, unknown>;
}

async function manualRows(tenantId: string): Promise<{ id: string; status: string }[]> {
  const r = await h.admin.query<{ id: string; status: string }>(
    `SELECT id, status FROM tenancy.backups WHERE tenant_id = $1 AND type = 'MANUAL' ORDER BY started_at`,
    [tenantId],
  );
  return r.rows;
}

async function request(
  tenantId: string,
  user: string,
  type?: string,
): Promise<{ jobId?: string; error?: Err }> {
  const token = await h.token({ userId: user, tenantId });
  const r = await h.gql<{ backupTenant: { id: string } }>(BACKUP, { id: tenantId, type }, token);
  const error = r.errors?.[0];
  return error ? { error } : { jobId: r.data!.backupTenant.id };
}

const post = async (tenantId: string, user: string, body: unknown): Promise<Response> =>
  fetch(`${h.url}/api/v1/schemas/${tenantId}/backup`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${await h.token({ userId: user, tenantId })}`,
    },
    body: JSON.stringify(body),
  });

/** `tenant_backup_refusals_total{limit}` on the tenants service. */
async function refusals(limit: string): Promise<number> {
  const text = await (await fetch(`${h.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('tenant_backup_refusals_total{') && l.includes(`limit="${limit}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-backup-quotas-'));
  sshd = await startTestSshd(dir);
  h = await startHarness('backup_quotas', {
    ...sshd.env,
    BACKUP_ENCRYPTION_KEYS: newKeyEntry('quota-key'),
    BACKUP_GZIP_LEVEL: '1',
    BACKUP_TMP_DIR: dir,
    BACKUP_RETRY_DELAY_MS: '200',
    // One backup at a time: the order in which jobs are taken is the order they run in.
    BACKUP_CONCURRENCY: '1',
    BACKUP_SCHEDULE_ENABLED: 'false',
    BACKUP_MANUAL_MAX_PER_DAY: String(MAX_PER_DAY),
  });
  const [a1, a2, a3, v, c] = await Promise.all([
    provisionActive(h, attacker, 'Flood One'),
    provisionActive(h, attacker, 'Flood Two'),
    provisionActive(h, attacker, 'Flood Three'),
    provisionActive(h, victim, 'Quiet Fund'),
    provisionActive(h, counted, 'Counted Fund'),
  ]);
  attackerTenants = [a1, a2, a3];
  victimTenant = v;
  countedTenant = c;
  // Every INITIAL backup done, so the queue holds only what the tests add.
  await eventually(
    async () => {
      const r = await h.admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM tenancy.backups WHERE type = 'INITIAL' AND status = 'VERIFIED'`,
      );
      return r.rows[0]?.n === 5 ? true : undefined;
    },
    'INITIAL backups',
    60_000,
  );
  queue = new Queue(QUEUES.backups, {
    connection: { url: h.config.REDIS_URL },
    prefix: h.config.BULLMQ_PREFIX,
  });
});

afterAll(async () => {
  await queue?.close();
  await h?.stop();
  await sshd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('backup types', () => {
  it('refuses SCHEDULED and INITIAL for everyone, platform admins included, through GraphQL and REST', async () => {
    const admin = await h.token({ userId: randomUUID(), platformAdmin: true });
    for (const type of ['SCHEDULED', 'INITIAL']) {
      const owner = await request(countedTenant, counted, type);
      expect(owner.error?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'backupType' });
      expect(owner.error?.message).toContain('MANUAL');
      const r = await h.gql(BACKUP, { id: countedTenant, type }, admin);
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const rest = await post(countedTenant, counted, { backup_type: type.toLowerCase() });
      expect(rest.status).toBe(400);
      expect(((await rest.json()) as { error: { code: string } }).error.code).toBe('BAD_USER_INPUT');
    }
    expect(await manualRows(countedTenant)).toEqual([]);
    expect(await refusals('backup_type')).toBe(6);
    const rows = await h.admin.query(
      `SELECT 1 FROM tenancy.backups WHERE tenant_id = $1 AND type <> 'INITIAL'`,
      [countedTenant],
    );
    expect(rows.rowCount).toBe(0);
  });
});

describe('daily count', () => {
  it('refuses past BACKUP_MANUAL_MAX_PER_DAY with QUOTA_EXCEEDED and retryAfter; yesterday does not count', async () => {
    // The day's earlier backups (their outcome does not matter: each was a backup the tenant asked for).
    for (let i = 0; i < MAX_PER_DAY; i += 1) {
      const id = randomUUID();
      await h.admin.query(
        `INSERT INTO tenancy.backups (id, tenant_id, type, status, job_id, completed_at)
         VALUES ($1, $2, 'MANUAL', 'FAILED', $3, now())`,
        [id, countedTenant, `backup-${id}`],
      );
    }
    const refused = await request(countedTenant, counted);
    expect(refused.error?.extensions?.code).toBe('QUOTA_EXCEEDED');
    expect(refused.error?.message).toContain(`limit of ${MAX_PER_DAY}`);
    const retryAfter = refused.error?.extensions?.['retryAfter'];
    expect(typeof retryAfter).toBe('number');
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    const rest = await post(countedTenant, counted, { backup_type: 'manual' });
    expect(rest.status).toBe(429);
    const body = (await rest.json()) as { error: { code: string; retryAfter: number } };
    expect(body.error).toMatchObject({ code: 'QUOTA_EXCEEDED', limit: MAX_PER_DAY });
    expect(body.error.retryAfter).toBeGreaterThanOrEqual(1);
    expect(await refusals('backups_per_day')).toBe(2);
    // Nothing half-done: no row, no job for the refused requests.
    expect((await manualRows(countedTenant)).length).toBe(MAX_PER_DAY);

    // Backups of the previous UTC day leave today's count free again.
    await h.admin.query(
      `UPDATE tenancy.backups SET started_at = date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 second'
        WHERE tenant_id = $1 AND type = 'MANUAL'`,
      [countedTenant],
    );
    const admitted = await request(countedTenant, counted);
    expect(admitted.error).toBeUndefined();
    expect(admitted.jobId).toMatch(/^backup-/);
  });
});

describe('one at a time, and fair scheduling', () => {
  it('a flood of manual requests makes one backup per tenant, and the nightly backup of another tenant runs first', async () => {
    const taken: string[] = [];
    const events = new QueueEvents(QUEUES.backups, {
      connection: { url: h.config.REDIS_URL },
      prefix: h.config.BULLMQ_PREFIX,
    });
    await events.waitUntilReady();
    events.on('active', ({ jobId }) => taken.push(jobId));
    // Let the admitted backup of the daily-count test finish, so only this test's jobs are taken.
    await eventually(async () => {
      const c = await queue.getJobCounts('active', 'waiting', 'prioritized', 'delayed');
      return Object.values(c).every((n) => n === 0) ? true : undefined;
    }, 'an idle queue');
    await queue.pause();
    try {
      // Concurrent requests for one tenant: one row, one job, every caller gets it.
      const [first, ...others] = attackerTenants as [string, ...string[]];
      const flood = await Promise.all(Array.from({ length: 8 }, () => request(first, attacker)));
      const ids = new Set(flood.map((r) => r.jobId));
      expect(flood.map((r) => r.error)).toEqual(flood.map(() => undefined));
      expect(ids.size).toBe(1);
      expect(await manualRows(first)).toMatchObject([{ status: 'QUEUED' }]);
      const manualJobs = [[...ids][0]!];
      for (const t of others) {
        const r = await request(t, attacker);
        manualJobs.push(r.jobId!);
      }
      const view = await request(first, attacker);
      expect(view.jobId).toBe(manualJobs[0]);

      // The night comes: the fan-out queues a SCHEDULED backup per tenant, the victim's among them.
      const night = await h.worker.backups.nightly({
        data: {},
        attemptsMade: 0,
        opts: {},
        name: JOB_KINDS.nightlyBackups,
        timestamp: Date.now(),
        updateProgress: () => Promise.resolve(),
      });
      const scheduled = await h.admin.query<{ job_id: string; tenant_id: string }>(
        `SELECT job_id, tenant_id FROM tenancy.backups WHERE type = 'SCHEDULED'`,
      );
      expect(night.tenants).toBe(scheduled.rowCount);
      const victimJob = scheduled.rows.find((r) => r.tenant_id === victimTenant)!.job_id;
      const all = [...manualJobs, ...scheduled.rows.map((r) => r.job_id)];

      await queue.resume();
      await eventually(
        async () => {
          const done = await Promise.all(all.map(async (id) => (await queue.getJob(id))?.getState()));
          return done.every((s) => s === 'completed') ? true : undefined;
        },
        'every backup to complete',
        120_000,
      );
      await eventually(
        () => Promise.resolve(all.every((id) => taken.includes(id)) ? true : undefined),
        'active events',
      );

      const order = taken.filter((id) => all.includes(id));
      const victimAt = order.indexOf(victimJob);
      for (const m of manualJobs) expect(order.indexOf(m), m).toBeGreaterThan(victimAt);
      // Every scheduled backup, not only the victim's, went ahead of the manual ones.
      expect(order.slice(0, scheduled.rowCount ?? 0).sort()).toEqual(
        scheduled.rows.map((r) => r.job_id).sort(),
      );
      // Completed: the next request makes a new backup.
      const next = await request(first, attacker);
      expect(next.jobId).not.toBe(manualJobs[0]);
    } finally {
      await queue.resume();
      await events.close();
    }
  });
});

describe('restoreTenant of a backup whose manifest was altered on the MA130', () => {
  it('fails permanently (one attempt) before touching the tenant', async () => {
    const schema = tenantSchemaName(countedTenant);
    const adminUrl = adminUrlOf(h.config);
    const backup = await h.admin.query<{ id: string; path: string }>(
      `SELECT id, path FROM tenancy.backups WHERE tenant_id = $1 AND status = 'VERIFIED' ORDER BY started_at DESC LIMIT 1`,
      [countedTenant],
    );
    const { id: backupId, path: remotePath } = backup.rows[0]!;
    // The test sshd serves this machine's filesystem: edit the manifest as someone on the MA130 could.
    const manifestPath = `${remotePath}.manifest.json`;
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
      rowCounts: Record<string, number>;
    };
    manifest.rowCounts['accounts'] = (manifest.rowCounts['accounts'] ?? 0) + 1;
    await writeFile(manifestPath, JSON.stringify(manifest));
    await h.admin.query(`UPDATE "${schema}".accounts SET cash = cash + 7`);
    const before = await dumpSchema({ adminUrl }, schema);

    const token = await h.token({ userId: counted, tenantId: countedTenant });
    const r = await h.gql<{ restoreTenant: { id: string } }>(
      'mutation($id: ID!) { restoreTenant(backupId: $id) { id } }',
      { id: backupId },
      token,
    );
    expect(r.errors).toBeUndefined();
    const restores = new Queue(QUEUES.restores, {
      connection: { url: h.config.REDIS_URL },
      prefix: h.config.BULLMQ_PREFIX,
    });
    try {
      const job = await finishedJob(restores, r.data!.restoreTenant.id, 'failed', 'the restore to fail');
      expect(job.attemptsMade).toBe(1);
      expect(job.failedReason).toContain('MAC');
    } finally {
      await restores.close();
    }
    expect(await dumpSchema({ adminUrl }, schema)).toBe(before);
    const side = await h.admin.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, [
      `${schema}\\_%`,
    ]);
    expect(side.rows).toEqual([]);
  });
});
