/**
 * Market orders end to end through the gateway (issue 5): 64 concurrent clients across 10 tenants,
 * each placing market orders of 1 share (buys and sells alternating) through :8000 — JWT and session
 * liveness at the gateway and again at the subgraph, rate limits, planning, the trading subgraph's
 * checks, the account-serialized transaction and the fill at market-data's live quote. Prints orders
 * per second and p50/p99 (target: 1,000 orders/s, p99 < 100 ms), then checks against the database
 * that no acknowledged order is missing, none exists twice, and none was filled twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { answerCpuRequests, cpuOf, postgresCpu, spawnBenchChild } from './child.js';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createGateway } from '../gateway/src/gateway.js';
import { startAuthFixtures } from '../gateway/test/support/harness.js';
import type { PlatformConfig } from '../scripts/platform-config.js';
import { ingressHeaders } from '../lib/ingress.js';
import type { Service } from '../lib/http.js';
import { createMarketDataService } from '../subgraphs/market-data/src/service.js';
import { createTradingService } from '../subgraphs/trading/src/service.js';
import { createTestEnv, freePorts } from '../test/support/env.js';
import { LeanConnection } from './lean-http.js';
import { marketOrderInput, percentile, provisionTenants, type BenchTenant } from './trading-support.js';

const SELF = fileURLToPath(import.meta.url);
const PLACE =
  'mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { id clientOrderId status rejectReason } }';

type Role = 'gateway' | 'trading' | 'market-data';

/** Child process entry: `--child <role> <config.json>`; prints `ready` once listening. */
async function child(role: Role, file: string): Promise<void> {
  const config = JSON.parse(await readFile(file, 'utf8')) as PlatformConfig;
  const service: Service =
    role === 'gateway'
      ? createGateway(config)
      : role === 'trading'
        ? createTradingService(config)
        : createMarketDataService(config);
  await service.start();
  answerCpuRequests();
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void service.stop().finally(() => process.exit(0));
  });
}

async function startChild(role: Role, file: string): Promise<ChildProcess> {
  // `--cpu-prof=<dir>` (after the positional arguments) profiles the trading child, or the children
  // named by `--cpu-prof-roles=gateway,trading,market-data`.
  const prof = process.argv.find((a) => a.startsWith('--cpu-prof='));
  const roles = process.argv
    .find((a) => a.startsWith('--cpu-prof-roles='))
    ?.slice(17)
    .split(',') ?? ['trading'];
  const flags = prof && roles.includes(role) ? ['--cpu-prof', `--cpu-prof-dir=${prof.slice(11)}`] : [];
  const proc = await spawnBenchChild({
    script: SELF,
    args: ['--child', role, file],
    nodeFlags: flags,
    name: role,
  });
  // `--logs=<dir>` keeps each child's log lines (LOG_LEVEL warn) in `<dir>/<role>.log`.
  const logs = process.argv.find((a) => a.startsWith('--logs='))?.slice(7);
  if (logs) {
    await mkdir(logs, { recursive: true });
    proc.stdout?.pipe(createWriteStream(path.join(logs, `${role}.log`)));
  }
  return proc;
}

interface LoadSpec {
  url: string;
  /** Header lines every request carries besides the token (the ingress key with `--direct`). */
  extraHeaders: string[];
  seconds: number;
  clients: number;
  tenants: { token: string; accountId: string }[];
  prefix: string;
  out: string;
}

interface Answer {
  tenant: number;
  clientOrderId: string;
  status: string | null;
  reason: string | null;
  ms: number;
}

/** The load loop: `clients` workers, one order at a time each, each on its own keep-alive connection. */
async function load(file: string): Promise<void> {
  const spec = JSON.parse(await readFile(file, 'utf8')) as LoadSpec;
  const answers: Answer[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  const until = performance.now() + spec.seconds * 1000;
  const headers = spec.tenants.map((t) => [
    'Content-Type: application/json',
    `Authorization: Bearer ${t.token}`,
    ...spec.extraHeaders,
  ]);
  const once = async (conn: LeanConnection, c: number, k: number): Promise<void> => {
    const tenant = c % spec.tenants.length;
    const t = spec.tenants[tenant] as LoadSpec['tenants'][number];
    const clientOrderId = `${spec.prefix}-${c}-${k}`;
    const body = JSON.stringify({
      query: PLACE,
      variables: { input: marketOrderInput(t.accountId, clientOrderId, k) },
    });
    const t0 = performance.now();
    try {
      const res = await conn.post(body, headers[tenant] ?? []);
      const ms = performance.now() - t0;
      const json = JSON.parse(res.body.toString()) as {
        data?: { placeOrder?: { status: string; rejectReason: string | null } };
      };
      const o = json.data?.placeOrder;
      if (res.status === 200 && o) {
        answers.push({ tenant, clientOrderId, status: o.status, reason: o.rejectReason, ms });
      } else {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(`${res.status}: ${res.body.toString().slice(0, 300)}`);
      }
    } catch {
      errors++;
    }
  };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: spec.clients }, async (_x, c) => {
      const conn = new LeanConnection(spec.url);
      let k = 0;
      while (performance.now() < until) await once(conn, c, k++);
      conn.close();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await writeFile(spec.out, JSON.stringify({ answers, errors, errorSamples, elapsed }));
}

/** Sum and count of the trading subgraph's `trading_placement_batch_orders` histogram. */
async function placementBatches(port: number): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const read = (name: string): number =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    sum: read('trading_placement_batch_orders_sum'),
    count: read('trading_placement_batch_orders_count'),
  };
}

function exec(args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    proc.once('error', reject);
    proc.once('close', resolve);
  });
}

async function gql<T>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  token: string,
): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const json = (await res.json()) as { data?: T; errors?: unknown };
  if (!json.data) throw new Error(JSON.stringify(json.errors));
  return json.data;
}

/**
 * Topology, as deployed: the gateway, the trading subgraph and market-data (its simulated feed on)
 * each run in a process of their own (children of this one); the load generator runs in another
 * (a lean keep-alive HTTP loop in Node, bench/lean-http.ts, that records every answer, so the check
 * afterwards is exact); JWKS
 * and session liveness are small fixtures in this process.
 *
 * Run: `npx tsx bench/trading-orders.ts [seconds=10] [clients=64] [tenants=10]`, then optionally
 * `--direct` (load straight to trading), `--cpu-prof=<dir>` (see startChild), `--logs=<dir>`. Loopback
 * only; its own database and Redis prefix; stops by itself.
 */
async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 10);
  const clients = Number(process.argv[3] ?? 64);
  const tenantCount = Number(process.argv[4] ?? 10);
  const [gatewayPort, tradingPort, marketPort] = await freePorts(3);
  const env = await createTestEnv('bench_trading_orders', {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    GATEWAY_PORT: String(gatewayPort),
    TRADING_PORT: String(tradingPort),
    MARKET_DATA_PORT: String(marketPort),
    DB_POOL_MAX: '16',
    RATE_LIMIT_PER_IP: '1000000000',
    RATE_LIMIT_PER_USER: '1000000000',
    RATE_LIMIT_PER_TENANT: '1000000000',
    // Measures throughput, not the cost budget (the noisy-neighbour benchmark keeps the defaults).
    COST_BUDGET_PER_TENANT: '1000000000000',
    COST_BUDGET_PER_IP: '1000000000000',
    MARKET_FEED_SYMBOLS: 'AAPL,MSFT',
    MARKET_FEED_TICKS_PER_SECOND: '20',
  });
  const auth = await startAuthFixtures(env.config);
  const procs: ChildProcess[] = [];
  try {
    const tenants = await provisionTenants(env.config, tenantCount, 4);
    const config: PlatformConfig = { ...env.config, jwksUrl: auth.jwksUrl, sessionsUrl: auth.sessionsUrl };
    const file = path.join(env.tmpDir, 'config.json');
    await writeFile(file, JSON.stringify(config));
    const [market, trading, gateway] = [
      await startChild('market-data', file),
      await startChild('trading', file),
      await startChild('gateway', file),
    ];
    procs.push(gateway, trading, market);
    const url = `http://127.0.0.1:${gatewayPort}/graphql`;

    const tokens = await Promise.all(
      tenants.map((t: BenchTenant) =>
        auth.mint(
          { sub: t.ownerId, tid: t.tenantId, role: 'OWNER', sid: randomUUID() },
          { ttlSeconds: 3600 },
        ),
      ),
    );
    // Limits that let the load run: sells without a position (alternating sides race), and no order-rate cap.
    for (const [i, t] of tenants.entries()) {
      await gql(
        url,
        `mutation($a: ID!) { updateRiskLimits(accountId: $a, input: { allowShortSelling: true, maxOrdersPerMinute: 1000000 }) { allowShortSelling } }`,
        { a: t.accountId },
        tokens[i] as string,
      );
    }
    // Wait for the feed's first quote (a market order then fills), and warm everything up.
    for (let i = 0; ; i++) {
      const r = await gql<{ placeOrder: { status: string } }>(
        url,
        PLACE,
        { input: marketOrderInput(tenants[0]?.accountId ?? '', `warm-${i}`, 0) },
        tokens[0] as string,
      );
      if (r.placeOrder.status === 'FILLED') break;
      if (i > 200) throw new Error('no quote from the feed');
      await new Promise((r2) => setTimeout(r2, 50));
    }
    // `--direct`: the load goes to the trading subgraph itself, with the gateway's ingress key, so
    // trading's CPU per order can be compared without the gateway sharing the cores.
    const direct = process.argv.includes('--direct');
    const loadSpec = (prefix: string, secs: number): LoadSpec => ({
      url: direct ? `http://127.0.0.1:${tradingPort}/graphql` : url,
      extraHeaders: direct
        ? Object.entries(ingressHeaders(config)).map(([name, value]) => `${name}: ${value}`)
        : [],
      seconds: secs,
      clients,
      tenants: tenants.map((t, i) => ({ token: tokens[i] as string, accountId: t.accountId })),
      prefix,
      out: path.join(env.tmpDir, `${prefix}.json`),
    });
    const warm = loadSpec('w', 3);
    await writeFile(path.join(env.tmpDir, 'warm.json'), JSON.stringify(warm));
    await exec(['--import', 'tsx', SELF, '--load', path.join(env.tmpDir, 'warm.json')]);

    const run = loadSpec('b', seconds);
    await writeFile(path.join(env.tmpDir, 'run.json'), JSON.stringify(run));
    const batches0 = await placementBatches(tradingPort as number);
    const [cpu0, pg0] = await Promise.all([Promise.all(procs.map(cpuOf)), postgresCpu()]);
    const code = await exec(['--import', 'tsx', SELF, '--load', path.join(env.tmpDir, 'run.json')]);
    const [cpu1, pg1] = await Promise.all([Promise.all(procs.map(cpuOf)), postgresCpu()]);
    const batches1 = await placementBatches(tradingPort as number);
    if (code !== 0) throw new Error('load generator failed');
    const { answers, errors, errorSamples, elapsed } = JSON.parse(await readFile(run.out, 'utf8')) as {
      answers: Answer[];
      errors: number;
      errorSamples: string[];
      elapsed: number;
    };

    const lat = answers.map((a) => a.ms).sort((a, b) => a - b);
    const byStatus = new Map<string, number>();
    for (const a of answers) {
      const k = a.reason ? `${a.status}/${a.reason}` : String(a.status);
      byStatus.set(k, (byStatus.get(k) ?? 0) + 1);
    }
    console.log(
      `market orders ${direct ? 'directly to trading (--direct)' : 'through the gateway'}: ${clients} clients, ${tenants.length} tenants, ${seconds} s`,
    );
    console.log(
      `  ${(answers.length / elapsed).toFixed(0)} orders/s  p50 ${percentile(lat, 50).toFixed(1)} ms  p99 ${percentile(lat, 99).toFixed(1)} ms  max ${(lat.at(-1) ?? 0).toFixed(1)} ms  transport/GraphQL errors ${errors}`,
    );
    console.log(`  outcomes: ${[...byStatus].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    for (const e of errorSamples) console.log(`  error sample: ${e}`);
    const n = Math.max(1, answers.length);
    const names = ['gateway', 'trading', 'market-data'];
    console.log(
      `  CPU per order: ${procs.map((_p, i) => `${names[i]} ${(((cpu1[i] ?? 0) - (cpu0[i] ?? 0)) / n).toFixed(0)} µs`).join(', ')}, PostgreSQL ${((pg1 - pg0) / n).toFixed(0)} µs; ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)}`,
    );
    const txs = batches1.count - batches0.count;
    console.log(
      `  placement transactions: ${txs}, ${((batches1.sum - batches0.sum) / Math.max(1, txs)).toFixed(1)} orders each on average (group commit per account)`,
    );

    // The check: every acknowledged order exists exactly once with the acknowledged status, nothing
    // else was created, and every FILLED order has exactly one execution of its quantity.
    const db = new pg.Pool({ connectionString: env.config.DATABASE_OWNER_URL, max: 2 });
    let missing = 0;
    let extra = 0;
    let statusMismatch = 0;
    let badFills = 0;
    try {
      for (const [i, t] of tenants.entries()) {
        const acked = new Map(answers.filter((a) => a.tenant === i).map((a) => [a.clientOrderId, a.status]));
        const rows = await db.query<{
          client_order_id: string;
          status: string;
          fills: number;
          qty: string | null;
        }>(
          `SELECT o.client_order_id, o.status, count(e.id)::int AS fills, sum(e.quantity)::text AS qty
             FROM "${t.schemaName}".orders o LEFT JOIN "${t.schemaName}".executions e ON e.order_id = o.id
            WHERE o.client_order_id LIKE 'b-%' GROUP BY o.id`,
        );
        const seen = new Set<string>();
        for (const r of rows.rows) {
          if (seen.has(r.client_order_id)) extra++;
          seen.add(r.client_order_id);
          const status = acked.get(r.client_order_id);
          if (status === undefined) extra++;
          else if (status !== r.status) statusMismatch++;
          if (r.status === 'FILLED' && (r.fills !== 1 || Number(r.qty) !== 1)) badFills++;
          if (r.status !== 'FILLED' && r.fills !== 0) badFills++;
        }
        for (const id of acked.keys()) if (!seen.has(id)) missing++;
      }
    } finally {
      await db.end();
    }
    console.log(
      `  check: ${answers.length} acknowledged orders; missing ${missing}, unacknowledged or duplicated ${extra}, status differs ${statusMismatch}, wrong fills ${badFills}`,
    );
    if (missing + extra + statusMismatch + badFills > 0) process.exitCode = 1;
  } finally {
    for (const p of procs) {
      if (p.exitCode !== null) continue;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
    await auth.stop();
    await env.cleanup();
  }
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args[1] as Role, args[2] ?? '');
else if (args[0] === '--load') await load(args[1] ?? '');
else await main();
