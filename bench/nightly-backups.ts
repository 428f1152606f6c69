/**
 * Nightly backup benchmark (issue 3): N small tenants (default 500, provisioned by the real
 * provisioning code, each with its paper account plus a few rows), backed up by the real tenants
 * worker through BullMQ: the `nightly-backups` fan-out (retention, then one `backup` job per ACTIVE
 * tenant), to a real OpenSSH server on loopback. Reports the total time from the fan-out to the last
 * VERIFIED backup for each BACKUP_CONCURRENCY, and the per-backup time.
 *
 * Run: `npx tsx bench/nightly-backups.ts [tenants=500] [concurrency=1,2,4,8]`. Own database, Redis
 * prefix, sshd and temp folder; cleans up.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createPool } from '../lib/db.js';
import { scheduledBackupId } from '../subgraphs/tenants/src/backup/backup.jobs.js';
import { loadTenantsConfig } from '../subgraphs/tenants/src/config.js';
import { JOB_KINDS } from '../subgraphs/tenants/src/jobs/queues.js';
import { createTenantsWorker } from '../subgraphs/tenants/src/jobs/worker.js';
import { envOf } from '../subgraphs/tenants/test/backup/support/backup-fixtures.js';
import { adminUrlOf, createTestEnv } from '../test/support/env.js';
import { startTestSshd } from '../test/support/sshd.js';
import { createTestProvisioner } from '../test/support/tenants.js';

const tenants = Number(process.argv[2] ?? 500);
const levels = (process.argv[3] ?? '1,2,4,8').split(',').map(Number);

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-bench-nightly-'));
  const sshd = await startTestSshd(dir);
  const env = await createTestEnv('bench_nightly', {
    ...sshd.env,
    LOG_LEVEL: 'warn',
    BACKUP_ENCRYPTION_KEYS: `bench:${Buffer.alloc(32, 3).toString('base64')}`,
    BACKUP_SCHEDULE_ENABLED: 'false',
    BACKUP_TMP_DIR: dir,
    DB_POOL_MAX: '20',
  });
  const config = env.config;
  const ownerPool = createPool(config, config.DATABASE_OWNER_URL, 'bench');
  const appPool = createPool(config, config.DATABASE_URL, 'bench');
  // tenancy.backups has forced row-level security: the bench reads it as the superuser.
  const admin = createPool(config, adminUrlOf(config), 'bench');
  try {
    const provisioning = createTestProvisioner(config, { ownerPool, appPool }, 'bench');
    const t0 = performance.now();
    const ids = Array.from({ length: tenants }, () => randomUUID());
    let next = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let i = next++; i < ids.length; i = next++) {
          const { schemaName: schema } = await provisioning.provision({
            tenantId: ids[i] as string,
            organizationName: `Nightly ${i}`,
          });
          await ownerPool.query(
            `INSERT INTO "${schema}".cash_ledger (account_id, kind, amount) SELECT id, 'deposit', g FROM "${schema}".accounts, generate_series(1, 20) g`,
          );
        }
      }),
    );
    console.log(
      `${tenants} tenants provisioned in ${((performance.now() - t0) / 1000).toFixed(1)} s; cores: ${os.cpus().length}`,
    );

    const results: string[] = [];
    for (const [k, concurrency] of levels.entries()) {
      const worker = createTenantsWorker(
        loadTenantsConfig(envOf(config, { BACKUP_CONCURRENCY: String(concurrency) })),
      );
      await worker.start();
      try {
        const day = `2031-01-${String(k + 1).padStart(2, '0')}`;
        const backupIds = ids.map((id) => scheduledBackupId(id, day));
        const s0 = performance.now();
        await worker.backups.nightly({
          data: {},
          attemptsMade: 0,
          opts: {},
          name: JOB_KINDS.nightlyBackups,
          timestamp: Date.parse(`${day}T02:30:00Z`),
          updateProgress: () => Promise.resolve(),
        });
        for (;;) {
          const r = await admin.query<{ done: number; failed: number }>(
            `SELECT count(*) FILTER (WHERE status = 'VERIFIED')::int AS done, count(*) FILTER (WHERE status = 'FAILED')::int AS failed
               FROM tenancy.backups WHERE id = ANY($1::uuid[])`,
            [backupIds],
          );
          const row = r.rows[0];
          if ((row?.done ?? 0) + (row?.failed ?? 0) >= tenants) {
            if (row?.failed) console.log(`  ${row.failed} backups FAILED`);
            break;
          }
          await new Promise((res) => setTimeout(res, 200));
        }
        const total = (performance.now() - s0) / 1000;
        const per = await admin.query<{ avg: number; p95: number; bytes: number }>(
          `SELECT avg(extract(epoch FROM completed_at - started_at))::float8 AS avg,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - started_at))::float8 AS p95,
                  avg(size_bytes)::float8 AS bytes
             FROM tenancy.backups WHERE id = ANY($1::uuid[]) AND status = 'VERIFIED'`,
          [backupIds],
        );
        const p = per.rows[0];
        const line = `| ${concurrency} | ${total.toFixed(1)} s | ${(tenants / total).toFixed(1)} | ${((p?.avg ?? 0) * 1000).toFixed(0)} ms | ${((p?.p95 ?? 0) * 1000).toFixed(0)} ms | ${((p?.bytes ?? 0) / 1024).toFixed(1)} KiB |`;
        console.log(line);
        results.push(line);
        // Make this run look like a past day, so the next run's retention keeps it (fair comparison).
        await admin.query(
          `UPDATE tenancy.backups SET started_at = started_at - make_interval(days => $2::int) WHERE id = ANY($1::uuid[])`,
          [backupIds, levels.length - k],
        );
      } finally {
        await worker.stop();
      }
    }
    console.log(`\nNightly backup of ${tenants} tenants (fan-out to last VERIFIED):\n`);
    console.log('| BACKUP_CONCURRENCY | total | tenants/s | mean per backup | p95 per backup | mean file |');
    console.log('|---|---|---|---|---|---|');
    for (const l of results) console.log(l);
  } finally {
    await Promise.all([ownerPool.end(), appPool.end(), admin.end()]);
    await sshd.stop();
    await env.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
