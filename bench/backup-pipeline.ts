/**
 * Backup pipeline benchmark (issue 3): one tenant with at least 200 MB of SQL (`pg_dump` output),
 * backed up by our pipeline (pg_dump -> node:zlib gzip -> AES-256-GCM chunks -> ssh2 SFTP, then a
 * read-back sha256 check and rename) against the plain shell pipeline
 * `pg_dump | gzip -N | ssh host 'cat > file'` on the same data, in the same run, to the same
 * OpenSSH server on loopback, at gzip levels 1, 6 and 9 (interleaved, so neither side gets the warmer
 * cache). Throughput = SQL bytes / wall seconds. Target: ours >= 80% of the shell's at level 9.
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { processEnv } from '../lib/config.js';
import { createPool, tenantSchemaName } from '../lib/db.js';
import { createLogger } from '../lib/logger.js';
import { startLocalSshd } from '../ops/ma130/local-sshd.js';
import { BackupKeyring, parseBackupKeys } from '../subgraphs/tenants/src/backup/backup-crypto.js';
import { backupSettings, runBackup } from '../subgraphs/tenants/src/backup/backup.pipeline.js';
import { Provisioner } from '../subgraphs/tenants/src/jobs/provision.job.js';
import { TenantRepository } from '../subgraphs/tenants/src/tenant.repository.js';
import { TemplateRegistry } from '../subgraphs/tenants/src/template.registry.js';
import { createTestEnv } from '../test/support/env.js';

const execFileAsync = promisify(execFile);
const rows = Number(process.argv[2] ?? 2_400_000);
const levels = (process.argv[3] ?? '1,6,9').split(',').map(Number);
const rounds = Number(process.argv[4] ?? 3);
const MB = 1024 * 1024;

function run(cmd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-o', 'pipefail', '-c', cmd], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...processEnv(), ...env },
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd}: exit ${code}: ${err}`))));
  });
}

/**
 * Run: `npx tsx bench/backup-pipeline.ts [rows=2400000] [levels=1,6,9] [rounds=3]` (medians). Uses its own database,
 * sshd and temp folder (test support) and cleans up.
 */
async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-bench-backup-'));
  // exec allowed (not SFTP-only) so the shell pipeline can run `cat > file` on the same server.
  const sshd = await startLocalSshd({ dir: path.join(dir, 'sshd'), sftpOnly: false });
  const root = path.join(dir, 'ma130');
  await mkdir(root, { recursive: true });
  const env = await createTestEnv('bench_backup', {
    LOG_LEVEL: 'warn',
    MA130_HOST: sshd.host,
    MA130_PORT: String(sshd.port),
    MA130_USERNAME: sshd.username,
    MA130_KEY_PATH: sshd.clientKeyPath,
    MA130_BACKUP_PATH: root,
    MA130_HOST_KEY_SHA256: sshd.hostKeySha256,
    BACKUP_ENCRYPTION_KEYS: `bench:${Buffer.alloc(32, 7).toString('base64')}`,
    BACKUP_TMP_DIR: dir,
  });
  const config = env.config;
  const ownerPool = createPool(config, config.DATABASE_OWNER_URL, 'bench');
  const appPool = createPool(config, config.DATABASE_URL, 'bench');
  try {
    const repo = new TenantRepository(appPool);
    const tenantId = randomUUID();
    const schema = tenantSchemaName(tenantId);
    await repo.createWithOwner(
      { id: tenantId, organizationName: 'Bench', template: 'trading', schemaName: schema },
      randomUUID(),
    );
    await new Provisioner({
      config,
      ownerPool,
      appPool,
      repo,
      templates: new TemplateRegistry(config.TENANT_TEMPLATES_DIR),
      logger: createLogger(config, 'bench'),
    }).provision(tenantId, () => Promise.resolve());

    const t0 = performance.now();
    // Its own connection: the pools' statement timeout would cancel a fill this size.
    const fill = new pg.Client({ connectionString: config.DATABASE_OWNER_URL });
    await fill.connect();
    try {
      await fill.query(
        `INSERT INTO "${schema}".accounts (name, cash) SELECT 'Account ' || g, 100000 FROM generate_series(1, 1000) g`,
      );
      await fill.query(
        `WITH ids AS (SELECT array_agg(id ORDER BY id) AS a FROM "${schema}".accounts)
         INSERT INTO "${schema}".cash_ledger (account_id, kind, amount, created_at)
         SELECT ids.a[1 + g % 1000], (ARRAY['deposit','withdrawal','trade','fee','interest'])[1 + g % 5],
                round((random() * 2000000 - 1000000)::numeric, 4),
                timestamptz '2024-01-01' + g * interval '1 second'
           FROM generate_series(1, $1::int) g, ids`,
        [rows],
      );
      await fill.query(`VACUUM ANALYZE "${schema}".cash_ledger`);
    } finally {
      await fill.end();
    }
    const size = await ownerPool.query<{ b: string }>(
      `SELECT sum(pg_total_relation_size(c.oid))::bigint AS b FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [schema],
    );
    console.log(
      `data: ${rows} ledger rows, schema ${(Number(size.rows[0]?.b) / MB).toFixed(0)} MB on disk (filled in ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );

    const dbname = new URL(config.DATABASE_OWNER_URL);
    const { stdout: sqlBytes } = await execFileAsync('bash', [
      '-c',
      `pg_dump --schema=${schema} --dbname='${dbname.toString()}' | wc -c`,
    ]);
    const dumpBytes = Number(sqlBytes.trim());
    console.log(`pg_dump output: ${(dumpBytes / MB).toFixed(1)} MB of SQL; cores: ${os.cpus().length}`);
    const { stdout: cpu } = await execFileAsync('bash', [
      '-c',
      "lscpu | grep 'Model name' | sed 's/.*: *//'",
    ]).catch(() => ({ stdout: '?' }));
    console.log(`cpu: ${cpu.trim()}`);

    const sshOpts = `-i ${sshd.clientKeyPath} -p ${sshd.port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes`;
    // Median of `rounds` interleaved runs per side: this machine is shared, so one run can be unlucky.
    const samples = new Map<
      number,
      { shell: number[]; ours: number[]; verify: number[]; shellSize: number; oursSize: number }
    >();
    const keyring = new BackupKeyring(parseBackupKeys(config.BACKUP_ENCRYPTION_KEYS ?? ''));
    for (let round = 1; round <= rounds; round++) {
      for (const level of levels) {
        const s = samples.get(level) ?? { shell: [], ours: [], verify: [], shellSize: 0, oursSize: 0 };
        samples.set(level, s);
        // Shell: exactly the seed's pipeline.
        const target = path.join(root, `shell-${level}.sql.gz`);
        const s0 = performance.now();
        await run(
          `pg_dump --schema=${schema} --dbname="$DB" | gzip -${level} | ssh ${sshOpts} ${sshd.username}@127.0.0.1 'cat > ${target}'`,
          { DB: dbname.toString() },
        );
        const shellSec = (performance.now() - s0) / 1000;
        s.shellSize = (await stat(target)).size;

        const settings = { ...backupSettings(config), gzipLevel: level };
        const o0 = performance.now();
        let verifyStart = 0;
        const result = await runBackup(
          { ownerPool, settings, keyring },
          { backupId: randomUUID(), tenantId, schemaName: schema, startedAt: new Date() },
          (p) => {
            if (p.phase === 'verifying' && verifyStart === 0) verifyStart = performance.now();
          },
        );
        const oursSec = (performance.now() - o0) / 1000;
        s.shell.push(shellSec);
        s.ours.push(oursSec);
        s.verify.push(verifyStart ? (performance.now() - verifyStart) / 1000 : 0);
        s.oursSize = result.manifest.sizeBytes;
        console.log(
          `round ${round} gzip -${level}: shell ${shellSec.toFixed(2)} s | ours ${oursSec.toFixed(2)} s (read-back verify ${(s.verify.at(-1) ?? 0).toFixed(2)} s) | load ${(os.loadavg()[0] ?? 0).toFixed(1)}`,
        );
      }
    }
    const median = (xs: number[]): number => {
      const a = [...xs].sort((x, y) => x - y);
      return a[Math.floor(a.length / 2)] ?? Number.NaN;
    };
    const mbs = (sec: number): number => dumpBytes / MB / sec;
    console.log(
      '\n| gzip level | shell MB/s | ours MB/s (incl. read-back) | ours / shell | ours without read-back | compressed (shell / ours) |',
    );
    console.log('|---|---|---|---|---|---|');
    for (const [level, s] of samples) {
      const shell = mbs(median(s.shell));
      const ours = mbs(median(s.ours));
      const noVerify = mbs(median(s.ours.map((t, i) => t - (s.verify[i] ?? 0))));
      console.log(
        `| ${level} | ${shell.toFixed(1)} | ${ours.toFixed(1)} | ${((ours / shell) * 100).toFixed(0)}% | ${noVerify.toFixed(1)} MB/s (${((noVerify / shell) * 100).toFixed(0)}%) | ${(s.shellSize / MB).toFixed(1)} / ${(s.oursSize / MB).toFixed(1)} MB |`,
      );
    }
  } finally {
    await Promise.all([ownerPool.end(), appPool.end()]);
    await sshd.stop();
    await env.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
