/**
 * Scaling measured on `make cluster`'s topology (issue 12 §3): the same cluster (HAProxy, PgBouncer
 * over TLS, Redis Sentinel, every service replicated) with one replica of the service under test
 * started against two, in the same run.
 * - orders: market orders through the entry (64 keep-alive clients over 10 tenants, closed loop), 1
 *   against 2 trading replicas (HAProxy spreads requests, so accounts are served by both); afterwards
 *   every acknowledged order is checked through the API (exists once, FILLED).
 * - fanout: `priceUpdated` subscribers through the entry, 1 against 2 gateways; messages delivered per
 *   second and the p99 from the tick's timestamp to its arrival.
 * Run: `npx tsx bench/cluster-scaling.ts [seconds=20] [--only=orders|fanout] [--subscribers=1000]`;
 * `--replicas=1|2` runs one of the orders runs, `--cpu-prof=<dir>` profiles the gateways during it.
 */
import os from 'node:os';
import pg from 'pg';
import { adminUrlOf, createTestEnv, type TestEnv } from '../test/support/env.js';
import { runCommandEnv } from '../test/support/run-command.js';
import type { RunningCluster } from '../scripts/cluster/cluster.js';
import { startTestCluster, type TestCluster } from '../test/support/cluster.js';
import { startTestSshd } from '../test/support/sshd.js';
import { subscribe, type Subscriber } from '../test/support/chaos-load.js';
import { LIMITS_ABOVE_LOAD, queuesIdle, registerOwner, registerUser } from './deployed-platform.js';
import { LeanConnection } from './lean-http.js';
import { cpuBetween, cpuSnapshot } from './proc-cpu.js';
import { profilePhase, profilingVars } from './cpu-profile-control.js';
import { marketOrderInput, percentile } from './trading-support.js';
import { eventually } from '../test/support/wait.js';

const PLACE =
  'mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { id clientOrderId status } }';
const SYMBOLS = ['AAPL', 'MSFT', 'GOOGL', 'AMZN', 'TSLA'];
const PRICE = `subscription { priceUpdated(symbols: ${JSON.stringify(SYMBOLS)}) { symbol price timestamp } }`;

interface Result {
  label: string;
  rate: number;
  p50: number;
  p99: number;
  detail: string;
  cpu: [string, number][];
}

/** A cluster on a namespace of its own, without `skip` (one replica of a service left out). */
async function withCluster<T>(
  name: string,
  skip: string | undefined,
  extra: Record<string, string>,
  run: (tc: TestCluster, url: string, env: TestEnv) => Promise<T>,
): Promise<T> {
  const env = await createTestEnv(name);
  const sshd = await startTestSshd(env.tmpDir);
  let tc: TestCluster | undefined;
  try {
    const vars = await runCommandEnv(env, {
      ...sshd.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'error',
      ...LIMITS_ABOVE_LOAD,
      MA130_CHECK_INTERVAL_MS: '3600000',
      ...extra,
    });
    let created: RunningCluster | undefined;
    const started = startTestCluster(env.tmpDir, vars, skip ? (p) => p.name !== skip : undefined, (c) => {
      created = c;
    });
    // A start that fails half-way still stops what it started.
    tc = await started.catch(async (err: unknown) => {
      await created?.stop();
      throw err;
    });
    // HAProxy marks the replica left out down after two failed checks 1 s apart.
    await new Promise((r) => setTimeout(r, 4_000));
    return await run(tc, `http://127.0.0.1:${tc.cluster.plan.ports.entry}/graphql`, env);
  } finally {
    await tc?.cluster.stop();
    await sshd.stop();
    await env.cleanup();
  }
}

/** A query through the entry, retried while the cluster is not answering it yet. */
async function post<T>(url: string, query: string, token: string, variables: object = {}): Promise<T> {
  return eventually(
    async () => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      }).catch(() => undefined);
      if (!(res?.headers.get('content-type') ?? '').includes('json')) return undefined;
      const body = (await res?.json()) as { data?: T; errors?: { extensions?: { code?: string } }[] };
      // NOT_FOUND: the tenant is still being provisioned.
      if (body.errors?.[0]?.extensions?.code === 'NOT_FOUND') return undefined;
      if (body.errors) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
      return body.data;
    },
    query,
    60_000,
    250,
  );
}

/**
 * Waits until the set-up's sign-ups are provisioned and their INITIAL backups done, so that none runs
 * during the measurement (the queues are shared: any worker's /metrics reads them).
 */
async function setUpSettled(tc: TestCluster): Promise<void> {
  const worker = tc.cluster.plan.processes.find((p) => p.kind === 'node' && p.service === 'tenants-worker');
  if (worker?.kind !== 'node') throw new Error('the cluster has no tenants worker');
  await queuesIdle({ TENANTS_WORKER_PORT: String(worker.port) });
}

/**
 * Orders each trading replica has placed so far (`trading_orders_placed_total` on its /metrics), by
 * replica name: HAProxy hashes each caller's token onto one replica, and with ten callers the split is
 * rarely even, so the ratio of a run is read with it.
 */
async function placedByReplica(tc: TestCluster): Promise<Map<string, { placed: number; batches: number }>> {
  const out = new Map<string, { placed: number; batches: number }>();
  for (const p of tc.cluster.plan.processes) {
    if (p.kind !== 'node' || p.service !== 'trading') continue;
    const text = await fetch(`http://127.0.0.1:${p.port}/metrics`)
      .then((r) => r.text())
      .catch(() => '');
    const sum = (metric: string): number => {
      let n = 0;
      for (const m of text.matchAll(new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\S+)`, 'gm'))) n += Number(m[1]);
      return n;
    };
    // Transactions of placements (one per batch of an account's queued orders: group commit).
    out.set(p.name, {
      placed: sum('trading_orders_placed_total'),
      batches: sum('trading_placement_batch_orders_count'),
    });
  }
  return out;
}

async function ordersRun(replicas: 1 | 2, seconds: number, profileDir?: string): Promise<Result> {
  // `--cpu-prof=<dir>`: V8 profiles of both gateways over the measured run (bench/cpu-profile-control.ts).
  const prof = profileDir ? await profilingVars(profileDir, ['gateway'], profileDir) : {};
  return withCluster('clscaleo', replicas === 1 ? 'trading-2' : undefined, prof, async (tc, url, env) => {
    const tenants: { token: string; tenantId: string; accountId: string }[] = [];
    for (let i = 0; i < 10; i++) {
      const { token, tenantId } = await registerOwner(url, i);
      // The paper account exists once provisioning (a job) completed.
      const accountId = await eventually(
        async () =>
          (await post<{ accounts: { id: string }[] }>(url, '{ accounts { id } }', token)).accounts[0]?.id,
        'the tenant provisioned',
        60_000,
        250,
      );
      // The default risk limit (600 orders a minute per account) would reject most of the load.
      await post(
        url,
        'mutation L($a: ID!, $i: RiskLimitsInput!) { updateRiskLimits(accountId: $a, input: $i) { maxOrdersPerMinute } }',
        token,
        { a: accountId, i: { maxOrdersPerMinute: 1_000_000 } },
      );
      tenants.push({ token, tenantId, accountId });
    }
    await setUpSettled(tc);
    const acked: { tenant: number; clientOrderId: string; ms: number }[] = [];
    let errors = 0;
    const loop = async (c: number, prefix: string, until: number, keep: boolean): Promise<void> => {
      const tenant = c % tenants.length;
      const t = tenants[tenant] as (typeof tenants)[number];
      const headers = ['Content-Type: application/json', `Authorization: Bearer ${t.token}`];
      const conn = new LeanConnection(url);
      for (let k = 0; performance.now() < until; k++) {
        const clientOrderId = `${prefix}-${c}-${k}`;
        const input = marketOrderInput(t.accountId, clientOrderId, k);
        const t0 = performance.now();
        const res = await conn
          .post(JSON.stringify({ query: PLACE, variables: { input } }), headers)
          .catch(() => undefined);
        const ok = res?.status === 200 && res.body.includes('"placeOrder":{');
        if (!ok) errors++;
        else if (keep) acked.push({ tenant, clientOrderId, ms: performance.now() - t0 });
      }
      conn.close();
    };
    const clients = 64;
    const warm = performance.now() + 3_000;
    await Promise.all(Array.from({ length: clients }, (_, c) => loop(c, 'warm', warm, false)));
    errors = 0;
    if (profileDir) await profilePhase(profileDir, 'start', ['gateway']);
    const placedBefore = await placedByReplica(tc);
    const before = cpuSnapshot([process.pid]);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, (_, c) => loop(c, 'run', started + seconds * 1000, true)),
    );
    const elapsed = (performance.now() - started) / 1000;
    const cpu = cpuBetween(before, cpuSnapshot([process.pid]), elapsed);
    if (profileDir) await profilePhase(profileDir, `stop orders-${replicas}`, ['gateway']);
    const placed = [...(await placedByReplica(tc))].map(([name, n]) => {
      const was = placedBefore.get(name);
      return [name, n.placed - (was?.placed ?? 0), n.batches - (was?.batches ?? 0)] as const;
    });
    const placedTotal = placed.reduce((sum, [, n]) => sum + n, 0);
    const split = placed
      .filter(([, n]) => n > 0)
      .map(
        ([name, n, batches]) =>
          `${name} ${((100 * n) / Math.max(1, placedTotal)).toFixed(0)}% (${(n / Math.max(1, batches)).toFixed(1)} orders per batch)`,
      )
      .join(', ');

    // Every acknowledged order exists once, FILLED with one execution.
    let missing = 0;
    let duplicated = 0;
    let badFills = 0;
    const admin = new pg.Client({ connectionString: adminUrlOf(env.config) });
    await admin.connect();
    try {
      for (const [i, t] of tenants.entries()) {
        const schema = (
          await admin.query<{ schema_name: string }>(
            'SELECT schema_name FROM tenancy.tenants WHERE id = $1',
            [t.tenantId],
          )
        ).rows[0]?.schema_name;
        const rows = await admin.query<{ client_order_id: string; n: string; status: string; fills: string }>(
          `SELECT o.client_order_id, count(*) OVER (PARTITION BY o.client_order_id) AS n, o.status,
                  (SELECT count(*) FROM "${schema}".executions e WHERE e.order_id = o.id) AS fills
             FROM "${schema}".orders o WHERE o.client_order_id LIKE 'run-%'`,
        );
        const found = new Map(rows.rows.map((r) => [r.client_order_id, r]));
        for (const a of acked.filter((x) => x.tenant === i)) {
          const r = found.get(a.clientOrderId);
          if (!r) missing++;
          else if (Number(r.n) > 1) duplicated++;
          else if (r.status !== 'FILLED' || Number(r.fills) !== 1) badFills++;
        }
      }
    } finally {
      await admin.end();
    }
    const ms = acked.map((a) => a.ms).sort((a, b) => a - b);
    return {
      label: `orders, ${replicas} trading replica${replicas === 2 ? 's' : ''}`,
      rate: acked.length / elapsed,
      p50: percentile(ms, 50),
      p99: percentile(ms, 99),
      detail: `${acked.length} acknowledged, ${errors} errors; ${missing} missing, ${duplicated} duplicated, ${badFills} not FILLED once; placed by ${split}`,
      cpu,
    };
  });
}

async function fanoutRun(replicas: 1 | 2, seconds: number, subscribers: number): Promise<Result> {
  // 5 symbols x 10 ticks/s: 50 events/s due per subscriber.
  const feed = { MARKET_FEED_SYMBOLS: SYMBOLS.join(','), MARKET_FEED_TICKS_PER_SECOND: '50' };
  return withCluster('clscalef', replicas === 1 ? 'gateway-2' : undefined, feed, async (tc, url) => {
    const wsUrl = url.replace('http:', 'ws:');
    const tokens: string[] = [];
    for (let i = 0; i < 20; i++) tokens.push(await registerUser(url, i));
    await setUpSettled(tc);
    const subs: Subscriber[] = [];
    for (let i = 0; i < subscribers; i++)
      subs.push(subscribe(wsUrl, tokens[i % tokens.length] ?? '', PRICE, {}));
    try {
      const deadline = Date.now() + 120_000;
      while (subs.some((s) => s.events.length === 0) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 250));
      const connected = subs.filter((s) => s.events.length > 0).length;
      const from = Date.now();
      const before = cpuSnapshot([process.pid]);
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const to = Date.now();
      const cpu = cpuBetween(before, cpuSnapshot([process.pid]), seconds);
      const lags: number[] = [];
      let delivered = 0;
      for (const s of subs) {
        for (const e of s.events) {
          if (e.at < from || e.at > to) continue;
          delivered++;
          const ts = (e.data['priceUpdated'] as { timestamp?: string } | undefined)?.timestamp;
          if (ts) lags.push(e.at - Date.parse(ts));
        }
      }
      lags.sort((a, b) => a - b);
      const due = (subscribers * 50 * (to - from)) / 1000;
      return {
        label: `fan-out, ${replicas} gateway${replicas === 2 ? 's' : ''}`,
        rate: delivered / ((to - from) / 1000),
        p50: percentile(lags, 50),
        p99: percentile(lags, 99),
        detail: `${connected}/${subscribers} subscribers receiving, ${((100 * delivered) / due).toFixed(1)}% of due delivered`,
        cpu,
      };
    } finally {
      await Promise.all(subs.map((s) => s.dispose().catch(() => undefined)));
    }
  });
}

function print(r: Result): void {
  console.log(
    `  ${r.label.padEnd(28)} ${r.rate.toFixed(0).padStart(7)}/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  ${r.detail}`,
  );
  console.log(
    `      CPU ms/s: ${r.cpu
      .filter(([, v]) => v >= 5)
      .map(([l, v]) => `${l} ${v.toFixed(0)}`)
      .join(', ')}`,
  );
}

async function main(): Promise<void> {
  const seconds = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 20);
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
  const subscribers = Number(process.argv.find((a) => a.startsWith('--subscribers='))?.slice(14) ?? 1000);
  console.log(
    `scaling on make cluster's topology, ${seconds} s per run, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)}`,
  );
  // `--replicas=1` or `=2`: only that orders run (no ratio).
  const replicas = process.argv.find((a) => a.startsWith('--replicas='))?.slice(11);
  const profileDir = process.argv.find((a) => a.startsWith('--cpu-prof='))?.slice(11);
  if (only !== 'fanout') {
    const one = replicas === '2' ? undefined : await ordersRun(1, seconds, profileDir);
    if (one) print(one);
    const two = replicas === '1' ? undefined : await ordersRun(2, seconds, profileDir);
    if (two) print(two);
    if (one && two)
      console.log(`  orders: 2 replicas / 1 = ${(two.rate / one.rate).toFixed(2)}x (target >= 1.3x)`);
  }
  if (only !== 'orders') {
    const one = await fanoutRun(1, seconds, subscribers);
    print(one);
    const two = await fanoutRun(2, seconds, subscribers);
    print(two);
    console.log(
      `  fan-out: 2 gateways / 1 = ${(two.rate / one.rate).toFixed(2)}x (target >= 1.8x at p99 < 100 ms)`,
    );
  }
}

await main();
