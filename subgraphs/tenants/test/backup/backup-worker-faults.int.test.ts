/**
 * Backup jobs under faults, through BullMQ and the real worker: a wrong host key fails the job at once
 * (one attempt, row FAILED); a worker process killed mid-upload leaves the job to be recovered as
 * stalled and finished by another worker; Redis restarted mid-job does not lose it. Every run ends
 * with a good backup or a clear failure, and no row says VERIFIED for a file that is not.
 * Uses its own redis-server (restarted by the test) and sshd.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processEnv, PROJECT_ROOT } from '../../../../lib/config.js';
import { loadTenantsConfig, type TenantsConfig } from '../../src/config.js';
import { BackupRepository } from '../../src/backup/backup.repository.js';
import type { BackupRow } from '../../src/db/schema.js';
import { createTenantsWorker, type TenantsWorker } from '../../src/jobs/worker.js';
import { backupJobId, JOB_KINDS, QUEUES, type BackupsQueueData } from '../../src/jobs/queues.js';
import {
  envOf,
  FaultProxy,
  fillTenant,
  listFiles,
  provisionTenant,
  startBackupContext,
  type BackupTestContext,
} from './support/backup-fixtures.js';
import { startTestRedis, type TestRedis } from '../../../../test/support/redis-server.js';
import { eventually, finishedJob } from '../../../../test/support/wait.js';
import { autogroupNice } from '../../../../lib/cpu-priority.js';

let redisDir: string;
let redis: TestRedis;
let ctx: BackupTestContext;
let tenantId: string;
let queue: Queue<BackupsQueueData>;
/** The worker process the second test kills, started early (it takes seconds to boot). */
let killable: { proxy: FaultProxy; release: () => void; child: ChildProcess };
let repo: BackupRepository;
const workers: TenantsWorker[] = [];
const children: ChildProcess[] = [];

const variant = (overrides: Record<string, string | undefined>): TenantsConfig =>
  loadTenantsConfig(envOf(ctx.env.config, overrides));

async function startWorker(config: TenantsConfig): Promise<TenantsWorker> {
  const w = createTenantsWorker(config);
  await w.start();
  workers.push(w);
  return w;
}

async function stopWorkers(): Promise<void> {
  for (const w of workers.splice(0)) await w.stop().catch(() => undefined);
}

/** Creates a MANUAL backup row and queues its job, as the API does. */
async function enqueueBackup(): Promise<string> {
  const id = randomUUID();
  await repo.createQueued({ id, tenantId, type: 'MANUAL', jobId: backupJobId(id) });
  await queue.add(JOB_KINDS.backup, { backupId: id, tenantId, type: 'MANUAL' }, { jobId: backupJobId(id) });
  return id;
}

async function row(id: string): Promise<BackupRow> {
  const r = await repo.findById(id);
  if (!r) throw new Error(`no backup ${id}`);
  return r;
}

const settled = (id: string): Promise<BackupRow> =>
  eventually(
    async () => {
      const r = await row(id);
      return r.status === 'VERIFIED' || r.status === 'FAILED' ? r : undefined;
    },
    `backup ${id} settled`,
    25_000,
  );

/** Every file of a backup under the MA130 root. */
const filesOf = async (id: string): Promise<string[]> =>
  (await listFiles(ctx.sshd.root)).filter((f) => f.includes(id));

async function expectGoodFile(r: BackupRow): Promise<void> {
  expect(r.status).toBe('VERIFIED');
  const bytes = await readFile(r.path!);
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(r.sha256);
  expect(bytes.length).toBe(r.sizeBytes);
  expect(await filesOf(r.id)).toEqual(
    [r.path!, `${r.path!}.manifest.json`].map((p) => p.slice(ctx.sshd.root.length + 1)).sort(),
  );
}

beforeAll(async () => {
  redisDir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-redis-'));
  redis = await startTestRedis(redisDir);
  ctx = await startBackupContext('backup_worker_faults', {
    REDIS_URL: redis.url,
    BACKUP_GZIP_LEVEL: '1',
    BACKUP_JOB_LOCK_MS: '1500',
    BACKUP_RETRY_DELAY_MS: '200',
    BACKUP_JOB_ATTEMPTS: '3',
    BACKUP_SCHEDULE_ENABLED: 'false',
  });
  // The worker process to kill: its first SSH connection stalls after 256 KiB of upload, until the
  // test releases it.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const proxy = new FaultProxy(ctx.sshd.port, 256 * 1024, () => held);
  const port = await proxy.start();
  const child = spawn(process.execPath, ['--import', 'tsx', 'subgraphs/tenants/src/worker.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...processEnv(),
      ...envOf(ctx.env.config, { MA130_PORT: String(port), LOG_LEVEL: 'silent' }),
      TRADESAGE_SKIP_DOTENV: '1',
    },
    stdio: 'ignore',
    // In a session of its own, as `make dev` and `make prod` start it (its autogroup is lowered too).
    detached: true,
  });
  children.push(child);
  killable = { proxy, release, child };
  ({ tenantId } = await provisionTenant(ctx));
  // ~1.2 MB of hard-to-compress text: an upload long enough to be interrupted in the middle.
  await fillTenant(ctx, (await ctx.repo.findById({ kind: 'system' }, tenantId))!.schemaName, {
    bulkRows: 120,
    bulkBytes: 10_000,
  });
  queue = new Queue(QUEUES.backups, { connection: { url: redis.url }, prefix: ctx.env.config.BULLMQ_PREFIX });
  repo = new BackupRepository(ctx.appPool);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await stopWorkers();
  await queue?.close();
  await ctx?.cleanup();
  await redis?.stop();
  if (redisDir) await rm(redisDir, { recursive: true, force: true });
});

/** A process's niceness (field 19 of /proc/<pid>/stat). */
async function niceOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe('through BullMQ', () => {
  it('a worker killed mid-upload: the job is recovered as stalled and another worker finishes it', async () => {
    const { proxy, release, child } = killable;
    try {
      const id = await enqueueBackup();
      await eventually(() => Promise.resolve(proxy.fired ? true : undefined), 'upload in progress', 25_000);
      expect((await row(id)).status).toBe('RUNNING');
      // The worker runs at TENANTS_WORKER_NICE (default 10): backups yield the CPU to the services.
      expect(await niceOf(child.pid!)).toBe(10);
      // And so does its session, where the kernel weighs sessions first (autogroup; lib/cpu-priority.ts).
      if (autogroupNice() !== undefined) expect(autogroupNice(child.pid)).toBe(10);
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
      release();
      proxy.cut();
      // Killed mid-job: nothing under the final name, the row does not claim success.
      expect((await filesOf(id)).filter((f) => !f.endsWith('.part'))).toEqual([]);
      expect((await row(id)).status).toBe('RUNNING');

      await startWorker(ctx.env.config);
      const r = await settled(id);
      await expectGoodFile(r);
      expect(r.attempts).toBe(2);
      const job = await queue.getJob(backupJobId(id));
      expect(await job!.getState()).toBe('completed');
    } finally {
      await proxy.stop();
      await stopWorkers();
    }
  });

  it('a wrong host key fails the job at once: one attempt, UnrecoverableError, row FAILED', async () => {
    const wrong = `SHA256:${createHash('sha256').update('some other host').digest('base64').replace(/=+$/, '')}`;
    await startWorker(variant({ MA130_HOST_KEY_SHA256: wrong }));
    const id = await enqueueBackup();
    const r = await settled(id);
    expect(r.status).toBe('FAILED');
    expect(r.error).toContain('host key mismatch');
    expect(r.attempts).toBe(1);
    const job = await queue.getJob(backupJobId(id));
    expect(await job!.getState()).toBe('failed');
    expect(job!.attemptsMade).toBe(1);
    expect(job!.failedReason).toContain('host key mismatch');
    expect(await filesOf(id)).toEqual([]);
    await stopWorkers();
  });

  it('Redis restarted mid-job: the job still ends with a verified backup', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const proxy = new FaultProxy(ctx.sshd.port, 256 * 1024, () => held);
    const port = await proxy.start();
    try {
      await startWorker(variant({ MA130_PORT: String(port) }));
      const id = await enqueueBackup();
      await eventually(() => Promise.resolve(proxy.fired ? true : undefined), 'upload in progress', 25_000);
      await redis.stop();
      await redis.start();
      release();
      const r = await settled(id);
      await expectGoodFile(r);
      const job = await finishedJob(queue, backupJobId(id), 'completed');
      expect(job.returnvalue).toMatchObject({ backupId: id, status: 'VERIFIED' });
    } finally {
      await proxy.stop();
      await stopWorkers();
    }
  });
});
