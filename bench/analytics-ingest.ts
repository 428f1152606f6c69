/**
 * Analytics' trade ingestion (issue 11): the CPU the analytics process spends per trade while trading's
 * stream carries a steady rate of trades (1 share, buy and sell alternating, as the noisy-neighbour
 * bench's tenant B), spread over several tenants. Analytics runs as a child process with the deployed
 * settings (snapshots after trades coalesced, the periodic snapshotter off); this process only adds
 * the entries. CPU is read from the child, so the figure does not depend on what else the machine runs
 * (wall time does). Afterwards every trade is checked: applied once, lots and closed round trips right.
 *
 * `npx tsx bench/analytics-ingest.ts [seconds=10] [rate=100] [--tenants=2] [--cpu-prof=<dir>]`
 */
import { type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestConfig as Config } from '../test/support/env.js';
import { tenantSchemaName } from '../lib/db.js';
import { createRedis } from '../lib/redis.js';
import { sharedKeys } from '../contracts/redis-names.js';
import { createAnalyticsService } from '../subgraphs/analytics/src/service.js';
import { tradeStreamGroupInfo } from '../subgraphs/analytics/src/trade-stream.consumer.js';
import { provisionActive, startHarness } from '../subgraphs/tenants/test/support/harness.js';
import { answerCpuRequests, cpuOf, spawnBenchChild } from './child.js';

const SELF = fileURLToPath(import.meta.url);

/** Child process entry: `--child <config.json>`; prints `ready` once the consumer runs. */
async function child(configFile: string): Promise<void> {
  const config = JSON.parse(await readFile(configFile, 'utf8')) as Config;
  const service = createAnalyticsService(config, { sessions: null });
  await service.start();
  answerCpuRequests();
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void service.stop().finally(() => process.exit(0));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const seconds = Number(positional[0] ?? 10);
  const rate = Number(positional[1] ?? 100);
  const tenantsArg = process.argv.find((a) => a.startsWith('--tenants='));
  const tenantCount = Math.max(1, Number(tenantsArg?.slice('--tenants='.length) ?? 2));

  const h = await startHarness('bench_ingest', {
    ANALYTICS_SNAPSHOTS_ENABLED: 'false',
    DB_POOL_MAX: '10',
  });
  const redis = createRedis(h.config, 'commands');
  let proc: ChildProcess | undefined;
  try {
    const accounts: { tenantId: string; accountId: string; schema: string; side: 'BUY' | 'SELL' }[] = [];
    for (let i = 0; i < tenantCount; i++) {
      const tenantId = await provisionActive(h, randomUUID(), `Ingest ${i}`);
      const schema = tenantSchemaName(tenantId);
      const r = await h.admin.query<{ id: string }>(`SELECT id FROM ${schema}.accounts LIMIT 1`);
      const accountId = r.rows[0]?.id;
      if (!accountId) throw new Error('no paper account');
      accounts.push({ tenantId, accountId, schema, side: 'BUY' });
    }
    const config: Config = { ...h.config, NODE_ENV: 'production', isProduction: true, LOG_LEVEL: 'warn' };
    const file = path.join(h.env.tmpDir, 'analytics-ingest.json');
    await writeFile(file, JSON.stringify(config));
    const profArg = process.argv.find((a) => a.startsWith('--cpu-prof='));
    const nodeFlags = profArg ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profArg.slice(11))}`] : [];
    proc = await spawnBenchChild({ script: SELF, args: ['--child', file], nodeFlags, name: 'analytics' });

    const stream = `${h.config.REDIS_PREFIX}${sharedKeys.tradeStream}`;
    let sent = 0;
    const add = (p: ReturnType<typeof redis.pipeline>): void => {
      const a = accounts[sent % accounts.length]!;
      sent += 1;
      p.xadd(
        stream,
        '*',
        'tenantId',
        a.tenantId,
        'accountId',
        a.accountId,
        'tradeId',
        randomUUID(),
        'orderId',
        randomUUID(),
        'symbol',
        'AAPL',
        'side',
        a.side,
        'quantity',
        '1',
        'price',
        (100 + (sent % 7)).toFixed(2),
        'executedAt',
        new Date().toISOString(),
      );
      a.side = a.side === 'BUY' ? 'SELL' : 'BUY';
    };
    const drained = async (): Promise<void> => {
      for (;;) {
        const info = await tradeStreamGroupInfo(redis, stream);
        if (info && info.lag === 0 && info.pending === 0) return;
        await sleep(50);
      }
    };
    // Warm-up: JIT, pools, each account's first trade (the history replay) and a snapshot each.
    const warm = redis.pipeline();
    for (let i = 0; i < accounts.length * 20; i++) add(warm);
    await warm.exec();
    await drained();
    await sleep(1500);

    const commits = async (): Promise<number> => {
      const r = await h.admin.query<{ n: string }>(
        'SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()',
      );
      return Number(r.rows[0]?.n ?? 0);
    };
    // CPU of the PostgreSQL backends serving this bench's database (present at both readings): the
    // database's share, without the other databases of a shared machine.
    const backendCpu = async (): Promise<Map<number, number>> => {
      const r = await h.admin.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      const out = new Map<number, number>();
      for (const { pid } of r.rows) {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (f.length > 13) out.set(pid, ((Number(f[11]) + Number(f[12])) * 1_000_000) / 100);
      }
      return out;
    };
    const warmSent = sent;
    const load0 = os.loadavg()[0] ?? 0;
    const [cpu0, pg0, tx0] = [await cpuOf(proc), await backendCpu(), await commits()];
    const start = performance.now();
    const total = Math.round(seconds * rate);
    // Open loop: every 10 ms, the entries that are due by then.
    while (sent - warmSent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      const p = redis.pipeline();
      while (sent - warmSent < due) add(p);
      if (p.length > 0) await p.exec();
      await sleep(10);
    }
    await drained();
    // The coalesced snapshot after the last trades (ANALYTICS_TRADE_SNAPSHOT_INTERVAL_MS) belongs to them.
    await sleep(config.ANALYTICS_TRADE_SNAPSHOT_INTERVAL_MS + 500);
    const [cpu1, pg1] = [await cpuOf(proc), await backendCpu()];
    let pgUs = 0;
    for (const [pid, us] of pg1) pgUs += us - (pg0.get(pid) ?? us);
    // Statistics reach pg_stat_database within about a second of a backend going idle.
    await sleep(1200);
    const tx1 = await commits();
    const load1 = os.loadavg()[0] ?? 0;

    // Every trade applied once; alternating 1-share trades leave lots of 0 or 1 and close one round trip
    // per pair.
    let problems = 0;
    for (const a of accounts) {
      const n = Math.floor(sent / accounts.length) + (accounts.indexOf(a) < sent % accounts.length ? 1 : 0);
      const applied = await h.admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${a.schema}.applied_trades`,
      );
      const closed = await h.admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${a.schema}.closed_trades`,
      );
      const lot = await h.admin.query<{ q: string }>(
        `SELECT quantity::text AS q FROM ${a.schema}.trade_lots WHERE account_id = $1`,
        [a.accountId],
      );
      const lotQty = Number(lot.rows[0]?.q ?? 0);
      if (applied.rows[0]?.n !== n || closed.rows[0]?.n !== Math.floor(n / 2) || lotQty !== n % 2) {
        problems += 1;
        console.error(
          `tenant ${a.tenantId}: ${n} sent, ${applied.rows[0]?.n} applied, ${closed.rows[0]?.n} closed, lot ${lotQty}`,
        );
      }
    }
    const us = (x: number): string => `${(x / total).toFixed(0)} µs`;
    console.log(
      `${total} trades at ${rate}/s over ${tenantCount} tenants (${seconds} s; load ${load0.toFixed(1)} -> ${load1.toFixed(1)}):\n` +
        `  analytics CPU per trade  ${us(cpu1 - cpu0)}\n` +
        `  PostgreSQL CPU per trade ${us(pgUs)} (the backends of the bench's database; 10 ms ticks)\n` +
        `  transactions per trade   ${((tx1 - tx0) / total).toFixed(2)} (pg_stat_database of the bench's database)\n` +
        `  checks: ${problems === 0 ? 'every trade applied once, lots and round trips right' : `${problems} tenants WRONG`}`,
    );
    if (problems > 0) process.exitCode = 1;
  } finally {
    if (proc) {
      const exited = new Promise((r) => proc?.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    redis.disconnect();
    await h.stop();
  }
}

if (process.argv[2] === '--child') {
  void child(process.argv[3] ?? '');
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
