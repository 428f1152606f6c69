/**
 * Market orders end to end through the gateway (issues 5 and 15): 64 concurrent clients across 10
 * tenants, each placing market orders of 1 share (buys and sells alternating) through :8000 on the
 * platform as `make prod` starts it (bench/deployed-platform.ts: real auth and sessions, users
 * registered through the gateway) — JWT and session liveness at the gateway and again at the
 * subgraph, rate limits, planning, trading's checks, the account-serialized transaction and the fill
 * at market-data's live quote. Hive Gateway (its default runtime and the Hive Router runtime) runs as
 * the peer in the same run: same supergraph, subgraphs, accounts, clients and duration, one gateway
 * after the other. Prints orders/s, p50/p99 and the CPU per order of each process for each gateway,
 * then checks against the database that every order acknowledged through any of them exists once in
 * its state, was filled once, and that every account's cash and positions reconcile with its fills.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ingressHeaders } from '../lib/ingress.js';
import { signalChild } from '../lib/process-signal.js';
import { adminUrlOf, freePorts } from '../test/support/env.js';
import { eventually } from '../test/support/wait.js';
import { spawnBenchChild } from './child.js';
import { profilePhase, profilingVars } from './cpu-profile-control.js';
import { provisioned, registerOwner, startDeployedPlatform } from './deployed-platform.js';
import { hiveChild, writeRunSupergraph } from './fanout-hive.js';
import { LeanConnection } from './lean-http.js';
import { cpuSnapshot, processTicks } from './proc-cpu.js';
import { marketOrderInput, percentile } from './trading-support.js';

const SELF = fileURLToPath(import.meta.url);
const PLACE =
  'mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { id clientOrderId status rejectReason } }';

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
 * CPU ticks so far of this database's PostgreSQL backends, by the `application_name` of their client
 * (pg_stat_activity): which service's statements PostgreSQL's CPU per order went to (trading's order
 * transactions, analytics' trade ingestion and snapshots, ...).
 */
async function postgresTicksByClient(db: pg.Client, database: string): Promise<Map<string, number>> {
  const r = await db.query<{ pid: number; app: string }>(
    `SELECT pid, application_name AS app FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [database],
  );
  const out = new Map<string, number>();
  for (const { pid, app } of r.rows) {
    const name = app || '(unnamed)';
    out.set(name, (out.get(name) ?? 0) + (processTicks(pid) ?? 0));
  }
  return out;
}

/** Processes whose CPU per order is printed first, in this order (bench/proc-cpu.ts labels). */
const MAIN_PROCESSES = [
  'gateway',
  'hive default',
  'hive router',
  'trading',
  'market-data',
  'auth',
  'sessions',
  'postgresql',
];

/** Hive Gateway's runtimes, as the peer: the proc-cpu label of its process and its orders' prefix. */
const HIVE_RUNTIMES = {
  default: { name: 'Hive Gateway', label: 'hive default', prefix: 'bh' },
  router: { name: 'Hive Gateway + Router runtime', label: 'hive router', prefix: 'br' },
} as const;
type HiveRuntime = keyof typeof HIVE_RUNTIMES;

/** Where a run's load goes: a gateway, or trading itself (`--direct`). */
interface Target {
  name: string;
  url: string;
  /** Header lines every request carries besides the token. */
  extraHeaders: string[];
  /**
   * clientOrderId prefix of its measured run's orders (`b`, `bh`, `br`: the check reads them back by
   * it); its warm-up's is `w` and the rest (`w`, `wh`, `wr`).
   */
  prefix: string;
  /** proc-cpu label of the gateway process, when there is one. */
  gateway?: string;
}

/** One measured run of a target. */
interface Measured {
  target: Target;
  answers: Answer[];
  rate: number;
  p50: number;
  p99: number;
  /** µs of CPU per order by process label (load generator left out). */
  perOrder: [string, number][];
}

/**
 * The check after the runs: every acknowledged order of the measured runs (clientOrderIds starting
 * with one of `prefixes` and `-`) exists exactly once with the acknowledged status and nothing else
 * was created under those prefixes; a FILLED order has exactly one execution of its quantity, any
 * other none; and for every account (warm-up orders included) cash equals its ledger and its deposits
 * plus its fills, positions equal the signed sum of its fills, nothing stays reserved. Returns the
 * counts of each kind of failure.
 */
async function checkOrders(
  adminUrl: string,
  tenants: readonly { tenantId: string }[],
  answers: readonly Answer[],
  prefixes: readonly string[],
): Promise<Record<'missing' | 'extra' | 'statusMismatch' | 'badFills' | 'unreconciled', number>> {
  const db = new pg.Client({ connectionString: adminUrl });
  await db.connect();
  const out = { missing: 0, extra: 0, statusMismatch: 0, badFills: 0, unreconciled: 0 };
  const patterns = prefixes.map((p) => `${p}-%`);
  try {
    for (const [i, t] of tenants.entries()) {
      const schema = (
        await db.query<{ schema_name: string }>('SELECT schema_name FROM tenancy.tenants WHERE id = $1', [
          t.tenantId,
        ])
      ).rows[0]?.schema_name;
      if (!schema) throw new Error(`tenant ${t.tenantId} has no schema`);
      const acked = new Map(answers.filter((a) => a.tenant === i).map((a) => [a.clientOrderId, a.status]));
      const rows = await db.query<{
        client_order_id: string;
        status: string;
        fills: number;
        qty: string | null;
      }>(
        `SELECT o.client_order_id, o.status, count(e.id)::int AS fills, sum(e.quantity)::text AS qty
           FROM "${schema}".orders o LEFT JOIN "${schema}".executions e ON e.order_id = o.id
          WHERE o.client_order_id LIKE ANY($1::text[]) GROUP BY o.id`,
        [patterns],
      );
      const seen = new Set<string>();
      for (const r of rows.rows) {
        if (seen.has(r.client_order_id)) out.extra++;
        seen.add(r.client_order_id);
        const status = acked.get(r.client_order_id);
        if (status === undefined) out.extra++;
        else if (status !== r.status) out.statusMismatch++;
        if (r.status === 'FILLED' && (r.fills !== 1 || Number(r.qty) !== 1)) out.badFills++;
        if (r.status !== 'FILLED' && r.fills !== 0) out.badFills++;
      }
      for (const id of acked.keys()) if (!seen.has(id)) out.missing++;
      // Numeric comparisons in SQL: exact, whatever the scale.
      const bad = await db.query<{ id: string }>(
        `SELECT a.id FROM "${schema}".accounts a
          WHERE a.cash <> (SELECT coalesce(sum(amount), 0) FROM "${schema}".cash_ledger l WHERE l.account_id = a.id)
             OR a.cash <> (SELECT coalesce(sum(amount), 0) FROM "${schema}".cash_ledger l
                            WHERE l.account_id = a.id AND l.kind IN ('deposit', 'withdrawal'))
                        + (SELECT coalesce(sum(CASE WHEN e.side = 'BUY' THEN -e.notional ELSE e.notional END - e.fee), 0)
                             FROM "${schema}".executions e WHERE e.account_id = a.id)
             OR a.reserved <> 0
             OR EXISTS (
               SELECT 1 FROM (SELECT symbol, quantity FROM "${schema}".positions p WHERE p.account_id = a.id) p
                 FULL JOIN (SELECT symbol, sum(CASE WHEN side = 'BUY' THEN quantity ELSE -quantity END) AS q
                              FROM "${schema}".executions e WHERE e.account_id = a.id GROUP BY symbol) f
                   ON f.symbol = p.symbol
                WHERE coalesce(p.quantity, 0) <> coalesce(f.q, 0))`,
      );
      out.unreconciled += bad.rowCount ?? 0;
    }
  } finally {
    await db.end();
  }
  return out;
}

/**
 * Topology, as deployed: scripts/dev.ts (what `make prod` runs) with NODE_ENV=production starts every
 * process from its dist/ bundle (bench/deployed-platform.ts); the tenants are registered through the
 * gateway and provisioned by the tenants worker. The load generator runs in a process of its own (a
 * lean keep-alive HTTP loop, bench/lean-http.ts, that records every answer, so the check afterwards
 * is exact). The feed is narrowed to 2 symbols at 20 ticks/s (a bench setting, as before). The peer,
 * Hive Gateway, runs in a bench child per runtime (bench/fanout-hive.ts) over the committed supergraph
 * with this run's subgraph URLs, forwarding the client's token and sending the ingress credential, as
 * bench/gateway-deployed.ts runs it; every gateway is warmed up, then measured one after the other
 * (ours first) on the same accounts.
 *
 * Run: `npx tsx bench/trading-orders.ts [seconds=10] [clients=64] [tenants=10]`, then optionally
 * `--ours-only` (no Hive: quick A/B runs), `--peers=default,router` (which Hive runtimes, both by
 * default), `--set=NAME=value` (repeatable: a variable for the platform's processes), `--direct` (load
 * straight to trading with the service credential, as the gateway sends it: trading's CPU per order
 * without the gateway sharing the cores; no peers), `--cpu-prof=<dir>` (V8 profiles of our gateway's
 * run, of the processes named by `--cpu-prof-roles=`, gateway,trading by default; summarize with
 * bench/cpu-profile-summary.ts), `--logs=<dir>` (the processes' logs).
 * Loopback only; its own database, Redis prefix and ports; stops by itself.
 */
async function main(): Promise<void> {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const seconds = Number(positional[0] ?? 10);
  const clients = Number(positional[1] ?? 64);
  const tenantCount = Number(positional[2] ?? 10);
  const direct = process.argv.includes('--direct');
  const option = (name: string): string | undefined =>
    process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const profileDir = option('cpu-prof');
  const profiled = option('cpu-prof-roles')?.split(',') ?? ['gateway', 'trading'];
  const logs = option('logs');
  const peers: HiveRuntime[] =
    direct || process.argv.includes('--ours-only')
      ? []
      : (option('peers') ?? 'default,router').split(',').map((r) => {
          if (r !== 'default' && r !== 'router') throw new Error(`--peers: unknown Hive runtime ${r}`);
          return r;
        });

  // `--set=NAME=value` (repeatable): a variable for the platform's processes (A/B runs of a setting).
  const settings = Object.fromEntries(
    process.argv
      .filter((a) => a.startsWith('--set='))
      .map((a) => {
        const [name = '', ...value] = a.slice('--set='.length).split('=');
        return [name, value.join('=')];
      }),
  );
  const deployed = await startDeployedPlatform('bench_trading_orders', async (env) => ({
    MARKET_FEED_SYMBOLS: 'AAPL,MSFT',
    MARKET_FEED_TICKS_PER_SECOND: '20',
    ...settings,
    ...(profileDir ? await profilingVars(profileDir, profiled, env.tmpDir) : {}),
  }));
  const { env, vars, graphqlUrl: url } = deployed;
  const hives: Awaited<ReturnType<typeof spawnBenchChild>>[] = [];
  try {
    const owners: { token: string; tenantId: string }[] = [];
    for (let i = 0; i < tenantCount; i++) owners.push(await registerOwner(url, i));
    await provisioned(
      url,
      owners.map((o) => o.token),
      vars,
    );
    const tenants: { token: string; tenantId: string; accountId: string }[] = [];
    for (const o of owners) {
      const { accounts } = await gql<{ accounts: { id: string }[] }>(url, '{ accounts { id } }', {}, o.token);
      const accountId = accounts[0]?.id;
      if (!accountId) throw new Error(`tenant ${o.tenantId} has no account`);
      tenants.push({ ...o, accountId });
      // Limits that let the load run: sells without a position (alternating sides race), and no order-rate cap.
      await gql(
        url,
        `mutation($a: ID!) { updateRiskLimits(accountId: $a, input: { allowShortSelling: true, maxOrdersPerMinute: 1000000 }) { allowShortSelling } }`,
        { a: accountId },
        o.token,
      );
    }
    // Wait for the feed's first quote (a market order then fills), and warm everything up.
    const first = tenants[0];
    if (!first) throw new Error('no tenants');
    const filledThrough = async (gatewayUrl: string, what: string): Promise<void> => {
      await eventually(
        async () => {
          const r = await gql<{ placeOrder: { status: string } }>(
            gatewayUrl,
            PLACE,
            { input: marketOrderInput(first.accountId, `warm-${Date.now()}`, 0) },
            first.token,
          );
          return r.placeOrder.status === 'FILLED' ? true : undefined;
        },
        what,
        30_000,
        100,
      );
    };
    await filledThrough(url, "a market order filled at the feed's first quote");
    const tradingPort = Number(vars['TRADING_PORT']);
    const ingress = ingressHeaders({ SERVICE_TOKEN: vars['SERVICE_TOKEN'] ?? '' });
    const targets: Target[] = [
      direct
        ? {
            name: 'directly to trading (--direct)',
            url: `http://127.0.0.1:${tradingPort}/graphql`,
            extraHeaders: Object.entries(ingress).map(([name, value]) => `${name}: ${value}`),
            prefix: 'b',
          }
        : { name: 'TradeSage gateway', url, extraHeaders: [], prefix: 'b', gateway: 'gateway' },
    ];
    if (peers.length > 0) {
      const supergraph = await writeRunSupergraph(vars, env.tmpDir);
      const headersFile = path.join(env.tmpDir, 'ingress.json');
      await writeFile(headersFile, JSON.stringify(ingress));
      const ports = await freePorts(peers.length);
      for (const [i, runtime] of peers.entries()) {
        const port = ports[i] ?? 0;
        hives.push(
          await spawnBenchChild({
            script: SELF,
            args: ['--hive', supergraph, String(port), runtime, headersFile],
            name: `hive gateway (${runtime})`,
          }),
        );
        const { name, label, prefix } = HIVE_RUNTIMES[runtime];
        const hiveUrl = `http://127.0.0.1:${port}/graphql`;
        await filledThrough(hiveUrl, `a market order filled through ${name}`);
        targets.push({ name, url: hiveUrl, extraHeaders: [], prefix, gateway: label });
      }
    }
    const loadSpec = (target: Target, prefix: string, secs: number): LoadSpec => ({
      url: target.url,
      extraHeaders: target.extraHeaders,
      seconds: secs,
      clients,
      tenants: tenants.map((t) => ({ token: t.token, accountId: t.accountId })),
      prefix,
      out: path.join(env.tmpDir, `${prefix}.json`),
    });
    const runLoad = async (spec: LoadSpec): Promise<void> => {
      const file = path.join(env.tmpDir, `${spec.prefix}-spec.json`);
      await writeFile(file, JSON.stringify(spec));
      const code = await exec(['--import', 'tsx', SELF, '--load', file]);
      if (code !== 0) throw new Error('load generator failed');
    };
    for (const t of targets) await runLoad(loadSpec(t, `w${t.prefix.slice(1)}`, 3));

    console.log(
      `market orders on the deployed platform (make prod's processes): ${clients} clients, ${tenants.length} tenants, ${seconds} s per gateway; ${os.cpus().length} CPUs`,
    );
    const database = new URL(env.config.DATABASE_URL).pathname.slice(1);
    // The platform's processes, and this bench's children (the Hive Gateways, the load generator).
    const roots = [deployed.platform.child.pid ?? 0, process.pid];
    const measured: Measured[] = [];
    const allAnswers: Answer[] = [];
    const admin = new pg.Client({ connectionString: adminUrlOf(env.config) });
    await admin.connect();
    try {
      for (const target of targets) {
        const run = loadSpec(target, target.prefix, seconds);
        // Profiles cover our own path only (ours, or trading alone with --direct).
        const profiling = profileDir !== undefined && target === targets[0];
        if (profiling) await profilePhase(profileDir, 'start', profiled);
        const batches0 = await placementBatches(tradingPort);
        const pg0 = await postgresTicksByClient(admin, database);
        const cpu0 = cpuSnapshot(roots, { database });
        await runLoad(run);
        const cpu1 = cpuSnapshot(roots, { database });
        const pg1 = await postgresTicksByClient(admin, database);
        const batches1 = await placementBatches(tradingPort);
        if (profiling) await profilePhase(profileDir, `stop orders${direct ? '-direct' : ''}`, profiled);
        const { answers, errors, errorSamples, elapsed } = JSON.parse(await readFile(run.out, 'utf8')) as {
          answers: Answer[];
          errors: number;
          errorSamples: string[];
          elapsed: number;
        };
        allAnswers.push(...answers);

        const lat = answers.map((a) => a.ms).sort((a, b) => a - b);
        const byStatus = new Map<string, number>();
        for (const a of answers) {
          const k = a.reason ? `${a.status}/${a.reason}` : String(a.status);
          byStatus.set(k, (byStatus.get(k) ?? 0) + 1);
        }
        const m: Measured = {
          target,
          answers,
          rate: answers.length / elapsed,
          p50: percentile(lat, 50),
          p99: percentile(lat, 99),
          perOrder: [],
        };
        console.log(`\n${target.name} (${target.url})`);
        console.log(
          `  ${m.rate.toFixed(0)} orders/s  p50 ${m.p50.toFixed(1)} ms  p99 ${m.p99.toFixed(1)} ms  max ${(lat.at(-1) ?? 0).toFixed(1)} ms  transport/GraphQL errors ${errors}`,
        );
        console.log(`  outcomes: ${[...byStatus].map(([k, v]) => `${k} ${v}`).join(', ')}`);
        for (const e of errorSamples) console.log(`  error sample: ${e}`);
        // /proc counts CPU in ticks of 10 ms: µs per order = ticks * 10,000 / orders.
        const n = Math.max(1, answers.length);
        m.perOrder = [...cpu1]
          .filter(([label]) => !label.startsWith('load'))
          .map(([label, t]): [string, number] => [label, ((t - (cpu0.get(label) ?? 0)) * 10_000) / n])
          .filter(([label, us]) => us >= 1 || MAIN_PROCESSES.includes(label))
          .sort(([a, x], [b, y]) => {
            const [i, j] = [MAIN_PROCESSES.indexOf(a), MAIN_PROCESSES.indexOf(b)];
            if (i >= 0 || j >= 0) return (i < 0 ? 99 : i) - (j < 0 ? 99 : j);
            return y - x;
          });
        console.log(
          `  CPU per order: ${m.perOrder.map(([label, us]) => `${label} ${us.toFixed(0)} µs`).join(', ')}; load average ${os.loadavg()[0]?.toFixed(1)}`,
        );
        const byClient = [...pg1]
          .map(([app, t]): [string, number] => [app, ((t - (pg0.get(app) ?? 0)) * 10_000) / n])
          .filter(([, v]) => v >= 1)
          .sort(([, a], [, b]) => b - a);
        console.log(
          `  PostgreSQL CPU per order by client (application_name, backends alive at the end): ${byClient.map(([app, v]) => `${app} ${v.toFixed(0)} µs`).join(', ')}`,
        );
        const txs = batches1.count - batches0.count;
        console.log(
          `  placement transactions: ${txs}, ${((batches1.sum - batches0.sum) / Math.max(1, txs)).toFixed(1)} orders each on average (group commit per account)`,
        );
        measured.push(m);
      }
    } finally {
      await admin.end();
    }

    if (measured.length > 1) {
      const us = (m: Measured, label: string | undefined): string =>
        label === undefined ? '-' : (m.perOrder.find(([l]) => l === label)?.[1] ?? 0).toFixed(0);
      console.log(
        '\nside by side (same platform, accounts, clients and duration; one gateway after the other):',
      );
      console.log(
        `  ${'gateway'.padEnd(30)} ${'orders/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'gateway µs/order'.padStart(17)} ${'trading µs'.padStart(11)} ${'PostgreSQL µs'.padStart(14)}`,
      );
      for (const m of measured) {
        console.log(
          `  ${m.target.name.padEnd(30)} ${m.rate.toFixed(0).padStart(8)} ${m.p50.toFixed(1).padStart(8)} ${m.p99.toFixed(1).padStart(8)} ${us(m, m.target.gateway).padStart(17)} ${us(m, 'trading').padStart(11)} ${us(m, 'postgresql').padStart(14)}`,
        );
      }
      const ours = measured[0] as Measured;
      console.log(
        `  ${measured
          .slice(1)
          .map((p) => `vs ${p.target.name} ${(ours.rate / p.rate).toFixed(2)}x orders/s`)
          .join('; ')}`,
      );
    }

    const c = await checkOrders(
      adminUrlOf(env.config),
      tenants,
      allAnswers,
      targets.map((t) => t.prefix),
    );
    console.log(
      `\ncheck (${targets.map((t) => t.name).join(', ')}): ${allAnswers.length} acknowledged orders; missing ${c.missing}, unacknowledged or duplicated ${c.extra}, status differs ${c.statusMismatch}, wrong fills ${c.badFills}; accounts whose cash or positions do not reconcile ${c.unreconciled}`,
    );
    if (Object.values(c).some((v) => v > 0)) process.exitCode = 1;
    if (logs) {
      await mkdir(logs, { recursive: true });
      const dir = path.join(env.tmpDir, 'logs');
      for (const f of await readdir(dir)) await copyFile(path.join(dir, f), path.join(logs, f));
    }
  } finally {
    for (const h of hives) {
      const exited = new Promise((r) => h.once('exit', r));
      if (signalChild(h, 'SIGTERM')) await exited;
    }
    await deployed.stop();
  }
}

const args = process.argv.slice(2);
if (args[0] === '--load') await load(args[1] ?? '');
else if (args[0] === '--hive') await hiveChild(args.slice(1));
else await main();
