/**
 * Subscription fan-out (issue 4): 1,000 concurrent graphql-ws subscribers to
 * `priceUpdated(symbols: [10 symbols]) { symbol price timestamp instrument { name } }` through a
 * gateway, with market-data's simulator publishing 50 ticks/s in total across those 10 symbols, so
 * 50,000 messages/s are due to clients. Measured for our gateway and, in the same run against the
 * same market-data process and the same committed supergraph, for Hive Gateway: delivered messages/s,
 * p50/p99 tick-to-client latency (the tick's `timestamp`, stamped by the simulator when it publishes,
 * against the client's receive time; same machine, same clock), the gateway process' peak RSS and
 * heap, its CPU, and (ours) the dropped/conflated counts of its metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import { WebSocket } from 'ws';
import { createGateway } from '../gateway/src/gateway.js';
import { startAuthFixtures } from '../gateway/test/support/harness.js';
import type { PlatformConfig } from '../scripts/platform-config.js';
import type { Service } from '../lib/http.js';
import { ingressHeaders } from '../lib/ingress.js';
import { createMarketDataService } from '../subgraphs/market-data/src/service.js';
import { createTestEnv, freePorts } from '../test/support/env.js';

const SELF = fileURLToPath(import.meta.url);
const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'JPM', 'SPY', 'BTCUSD'];
const TICKS_PER_SECOND = 50;
const QUERY = `subscription Prices($symbols: [ID!]!) {
  priceUpdated(symbols: $symbols) { symbol price timestamp instrument { name } }
}`;
/** Latency histogram: 0.1 ms buckets up to 30 s (the last bucket collects anything slower). */
const BUCKET_MS = 0.1;
const BUCKETS = 300_000;

type Role = 'market-data' | 'gateway' | 'hive';

interface ChildStats {
  cpuUs: number;
  rss: number;
  heapUsed: number;
}

function flag(name: string): string | undefined {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`) || x === `--${name}`);
  return a === undefined ? undefined : a.includes('=') ? a.slice(a.indexOf('=') + 1) : 'true';
}

/** Child process entry: `--child <role> <config.json> [supergraph]`; prints `ready` once listening. */
async function child(role: Role, file: string, supergraph: string | undefined): Promise<void> {
  const config = JSON.parse(await readFile(file, 'utf8')) as PlatformConfig;
  let stop: () => Promise<void>;
  if (role === 'hive') {
    // Imported here only: the other processes never load Hive Gateway.
    const { startHiveGateway } = await import('./fanout-hive.js');
    const hive = await startHiveGateway(supergraph ?? '', Number(process.argv[6]), ingressHeaders(config));
    stop = () => hive.stop();
  } else {
    const service: Service = role === 'gateway' ? createGateway(config) : createMarketDataService(config);
    await service.start();
    stop = () => service.stop();
  }
  process.on('message', () => {
    const u = process.cpuUsage();
    const m = process.memoryUsage();
    const stats: ChildStats = { cpuUs: u.user + u.system, rss: m.rss, heapUsed: m.heapUsed };
    process.send?.(stats);
  });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void stop().finally(() => process.exit(0));
  });
}

function startChild(args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    // `--cpu-prof=<dir>` profiles the gateway children (ours and Hive).
    const prof = flag('cpu-prof');
    const flags =
      prof && (args[1] === 'gateway' || args[1] === 'hive') ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
    const proc = spawn(process.execPath, [...flags, '--import', 'tsx', SELF, ...args], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    proc.once('exit', (code) => reject(new Error(`${args[1]} exited early (${code})`)));
    proc.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve(proc);
    });
  });
}

function statsOf(proc: ChildProcess): Promise<ChildStats> {
  return new Promise((resolve) => {
    proc.once('message', (m) => resolve(m as ChildStats));
    proc.send('stats');
  });
}

/** Peak resident set size of a process so far (VmHWM), in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : Number.NaN;
}

// ---------------------------------------------------------------------------------------------------
// Subscriber processes

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'code' in err) {
    const reason = (err as { reason?: unknown }).reason;
    return `close ${String(err.code)} ${typeof reason === 'string' ? reason : ''}`;
  }
  return JSON.stringify(err).slice(0, 300);
}

interface ClientSpec {
  url: string;
  tokens: string[];
  /** Only the first subscriber process records which ticks exist (to count what was due). */
  recordTicks: boolean;
}

interface ClientReport {
  received: number;
  histogram: number[];
  maxMs: number;
  errors: number;
  closed: number;
  /** Distinct ticks (symbol + timestamp) seen by the first subscriber while counting. */
  ticks: number;
  /** CPU this subscriber process used while counting (µs). */
  cpuUs: number;
  errorSamples: string[];
}

/**
 * A subscriber process: one graphql-ws client (one socket) per token, one subscription each. Says
 * `ready` once every subscription has delivered an event, counts from `start` to `stop`, then reports.
 */
async function subscribers(file: string): Promise<void> {
  const spec = JSON.parse(await readFile(file, 'utf8')) as ClientSpec;
  const histogram = new Uint32Array(BUCKETS);
  let counting = false;
  let received = 0;
  let maxMs = 0;
  let errors = 0;
  let closed = 0;
  const errorSamples: string[] = [];
  const ticks = new Set<string>();
  const closeCodes = new Map<string, number>();
  const started = new Set<number>();
  const clients: Client[] = [];
  let onAllStarted: (() => void) | undefined;
  const allStarted = new Promise<void>((r) => (onAllStarted = r));

  const subscribe = (token: string, i: number): void => {
    const c = createClient({
      url: spec.url,
      webSocketImpl: WebSocket,
      lazy: true,
      // A loaded machine can time out a handshake (4408); clients retry as real ones do.
      retryAttempts: 5,
      connectionParams: { authorization: `Bearer ${token}` },
      on: {
        closed: (e) => {
          closed++;
          const code = e && typeof e === 'object' && 'code' in e ? String(e.code) : '?';
          closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
        },
      },
    });
    clients.push(c);
    c.subscribe<{ priceUpdated: { symbol: string; timestamp: string } }>(
      { query: QUERY, variables: { symbols: SYMBOLS } },
      {
        next: (r) => {
          const now = performance.timeOrigin + performance.now();
          if (!started.has(i)) {
            started.add(i);
            if (started.size === spec.tokens.length) onAllStarted?.();
          }
          const t = r.data?.priceUpdated;
          if (!t) {
            errors++;
            if (errorSamples.length < 3) errorSamples.push(JSON.stringify(r).slice(0, 300));
            return;
          }
          if (!counting) return;
          received++;
          const ms = now - Date.parse(t.timestamp);
          if (ms > maxMs) maxMs = ms;
          const bucket = Math.min(BUCKETS - 1, Math.max(0, Math.floor(ms / BUCKET_MS)));
          histogram[bucket] = (histogram[bucket] ?? 0) + 1;
          if (spec.recordTicks && i === 0) ticks.add(`${t.symbol}@${t.timestamp}`);
        },
        error: (err) => {
          errors++;
          if (errorSamples.length < 3) errorSamples.push(describeError(err));
        },
        complete: () => undefined,
      },
    );
  };
  // Opened at a bounded rate (20 per 100 ms per process), as a fleet of clients would connect, not
  // hundreds of handshakes (each a token check with a session liveness call) in one tick.
  for (let i = 0; i < spec.tokens.length; i += 20) {
    spec.tokens.slice(i, i + 20).forEach((t, k) => subscribe(t, i + k));
    await new Promise((r) => setTimeout(r, 100));
  }
  // Subscribers that have not started after 90 s are counted as delivering nothing (the report says
  // how many started); the run goes on with the others.
  await Promise.race([allStarted, new Promise((r) => setTimeout(r, 90_000))]);
  if (started.size < spec.tokens.length) {
    process.stderr.write(
      `subscribers: ${started.size}/${spec.tokens.length} started after 90 s; errors ${errors} ${errorSamples.join(' | ')}\n`,
    );
  }
  process.send?.({ started: started.size });
  let cpu0 = 0;
  const cpu = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  process.on('message', (m) => {
    if (m === 'start') {
      counting = true;
      cpu0 = cpu();
    } else if (m === 'stop') {
      counting = false;
      const report: ClientReport = {
        received,
        histogram: [...histogram],
        maxMs,
        errors,
        closed,
        ticks: ticks.size,
        cpuUs: cpu() - cpu0,
        errorSamples: [
          ...errorSamples,
          ...(closeCodes.size > 0
            ? [`sockets closed by code: ${[...closeCodes].map(([c, n]) => `${c} x${n}`).join(', ')}`]
            : []),
        ],
      };
      process.send?.(report, () => {
        for (const c of clients) void c.dispose();
        setTimeout(() => process.exit(0), 200);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// The run

interface RunResult {
  name: string;
  seconds: number;
  subscribers: number;
  received: number;
  /** Subscriptions that delivered an event before the run (the others count as delivering nothing). */
  started: number;
  /** Messages due: ticks the feed published while counting × subscribers. */
  due: number;
  /** Ticks the feed published while counting, and how many distinct ones the first subscriber got. */
  published: number;
  ticksSeen: number;
  p50: number;
  p99: number;
  maxMs: number;
  errors: number;
  closed: number;
  rssPeak: number;
  heapPeak: number;
  cpuPercent: number;
  marketCpuPercent: number;
  clientCpuPercent: number;
  metrics: Record<string, number> | undefined;
  load: number;
}

function quantile(hist: readonly number[], total: number, q: number): number {
  const want = Math.ceil(q * total);
  let seen = 0;
  for (let b = 0; b < hist.length; b++) {
    seen += hist[b] ?? 0;
    if (seen >= want) return (b + 1) * BUCKET_MS;
  }
  return Number.NaN;
}

/** Sums of the metrics named `prefix*` (over their labels) of a service's /metrics. */
async function metricsOf(url: string, prefix: string): Promise<Record<string, number>> {
  const text = await (await fetch(url.replace(/\/graphql$/, '/metrics'))).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const m = /^(\w+)(?:\{[^}]*\})? ([\d.e+-]+)$/.exec(line);
    if (m?.[1] && m[2]) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  }
  return out;
}

async function measure(opts: {
  name: string;
  url: string;
  gateway: ChildProcess;
  market: ChildProcess;
  marketUrl: string;
  tokens: string[];
  procs: number;
  warmup: number;
  seconds: number;
  dir: string;
  ours: boolean;
}): Promise<RunResult> {
  const per = Math.ceil(opts.tokens.length / opts.procs);
  const clients: ChildProcess[] = [];
  try {
    for (let p = 0; p < opts.procs; p++) {
      const file = path.join(opts.dir, `${opts.name}-clients-${p}.json`);
      const spec: ClientSpec = {
        url: opts.url.replace(/^http/, 'ws'),
        tokens: opts.tokens.slice(p * per, (p + 1) * per),
        recordTicks: p === 0,
      };
      await writeFile(file, JSON.stringify(spec));
      const proc = spawn(process.execPath, ['--import', 'tsx', SELF, '--subscribers', file], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      clients.push(proc);
    }
    const started = (
      await Promise.all(
        clients.map(
          (c) =>
            new Promise<number>((resolve, reject) => {
              c.once('message', (m) => resolve((m as { started: number }).started));
              c.once('exit', (code) => reject(new Error(`subscriber process exited (${code})`)));
            }),
        ),
      )
    ).reduce((a, b) => a + b, 0);
    await new Promise((r) => setTimeout(r, opts.warmup * 1000));
    const before = opts.ours ? await metricsOf(opts.url, 'gateway_subscription') : undefined;
    const published0 = (await metricsOf(opts.marketUrl, 'market_'))['market_ticks_published_total'] ?? 0;
    const [g0, m0] = [await statsOf(opts.gateway), await statsOf(opts.market)];
    for (const c of clients) c.send('start');
    const t0 = performance.now();
    let heapPeak = g0.heapUsed;
    let load = os.loadavg()[0] ?? 0;
    while (performance.now() - t0 < opts.seconds * 1000) {
      await new Promise((r) => setTimeout(r, 250));
      const s = await statsOf(opts.gateway);
      heapPeak = Math.max(heapPeak, s.heapUsed);
      load = Math.max(load, os.loadavg()[0] ?? 0);
    }
    const after = opts.ours ? await metricsOf(opts.url, 'gateway_subscription') : undefined;
    const published =
      ((await metricsOf(opts.marketUrl, 'market_'))['market_ticks_published_total'] ?? 0) - published0;
    const reports = await Promise.all(
      clients.map(
        (c) =>
          new Promise<ClientReport>((resolve) => {
            c.once('message', (m) => resolve(m as ClientReport));
            c.send('stop');
          }),
      ),
    );
    const elapsed = (performance.now() - t0) / 1000;
    const [g1, m1] = [await statsOf(opts.gateway), await statsOf(opts.market)];
    const hist = new Array<number>(BUCKETS).fill(0);
    let received = 0;
    let maxMs = 0;
    let errors = 0;
    let closed = 0;
    for (const r of reports) {
      received += r.received;
      maxMs = Math.max(maxMs, r.maxMs);
      errors += r.errors;
      closed += r.closed;
      for (let b = 0; b < BUCKETS; b++) hist[b] = (hist[b] ?? 0) + (r.histogram[b] ?? 0);
      for (const e of r.errorSamples) console.log(`  ${opts.name} error sample: ${e}`);
    }
    const ticks = reports[0]?.ticks ?? 0;
    const metrics =
      before && after
        ? Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]))
        : undefined;
    if (metrics && after) {
      // Gauges are levels, not deltas.
      metrics['gateway_subscriptions_active'] = after['gateway_subscriptions_active'] ?? Number.NaN;
      metrics['gateway_subscription_upstreams'] = after['gateway_subscription_upstreams'] ?? Number.NaN;
    }
    return {
      name: opts.name,
      seconds: elapsed,
      subscribers: opts.tokens.length,
      received,
      started,
      due: published * opts.tokens.length,
      ticksSeen: ticks,
      published,
      p50: quantile(hist, received, 0.5),
      p99: quantile(hist, received, 0.99),
      maxMs,
      errors,
      closed,
      rssPeak: await peakRss(opts.gateway.pid ?? 0),
      heapPeak,
      cpuPercent: ((g1.cpuUs - g0.cpuUs) / 1e4 / elapsed) * 1,
      marketCpuPercent: ((m1.cpuUs - m0.cpuUs) / 1e4 / elapsed) * 1,
      clientCpuPercent: reports.reduce((a, r) => a + r.cpuUs, 0) / 1e4 / elapsed,
      metrics,
      load,
    };
  } finally {
    for (const c of clients) {
      if (c.exitCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
  }
}

function print(r: RunResult): void {
  const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MB`;
  console.log(
    `  ${r.name.padEnd(13)} ${(r.received / r.seconds).toFixed(0).padStart(6)} msgs/s delivered (${((100 * r.received) / Math.max(1, r.due)).toFixed(1)}% of ${(r.due / r.seconds).toFixed(0)}/s due)  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  max ${r.maxMs.toFixed(0)} ms  errors ${r.errors}  closed ${r.closed}  started ${r.started}/${r.subscribers}`,
  );
  console.log(
    `  ${''.padEnd(13)} gateway RSS peak ${mb(r.rssPeak)}, heap peak ${mb(r.heapPeak)}, CPU ${r.cpuPercent.toFixed(0)}% (market-data ${r.marketCpuPercent.toFixed(0)}%, subscriber processes ${r.clientCpuPercent.toFixed(0)}%), load average up to ${r.load.toFixed(1)}`,
  );
  console.log(
    `  ${''.padEnd(13)} feed published ${(r.published / r.seconds).toFixed(1)} ticks/s; the first subscriber got ${r.ticksSeen} of its ${r.published} ticks`,
  );
  if (r.metrics) {
    const m = r.metrics;
    console.log(
      `  ${''.padEnd(13)} metrics: upstreams ${m['gateway_subscription_upstreams']}, active ${m['gateway_subscriptions_active']}, events in ${m['gateway_subscription_events_in_total']}, out ${m['gateway_subscription_events_out_total']}, conflated ${m['gateway_subscription_events_conflated_total'] ?? 0}, dropped ${m['gateway_subscription_events_dropped_total'] ?? 0}`,
    );
  }
}

/**
 * Topology: market-data, our gateway and Hive Gateway each run in a process of their own (children of
 * this one), so each gateway's memory and CPU are its own; the gateways are measured one after the
 * other (never at once: they would split the 2 cores). Subscribers are `graphql-ws` clients on `ws`,
 * one socket and one subscription each, spread over `--client-procs` child processes (default 4), so
 * that JSON parsing on the client side is not what limits delivery. JWKS and session liveness are
 * small fixtures in this process. Each subscriber has its own user (token), spread over 10 tenants,
 * unless `--shared-token`.
 *
 * Run: `npx tsx bench/subscription-fanout.ts [seconds=30] [subscribers=1000]` with optional
 * `--warmup=<s>` (default 5), `--client-procs=<n>`, `--only=ours|hive`, `--shared-token`,
 * `--cpu-prof=<dir>` (CPU profiles of the gateway processes).
 * Its own database and Redis prefix; loopback only; stops by itself.
 */
async function main(): Promise<void> {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const seconds = Number(positional[0] ?? 30);
  const count = Number(positional[1] ?? 1000);
  const warmup = Number(flag('warmup') ?? 5);
  const procs = Number(flag('client-procs') ?? 4);
  const only = flag('only');
  const sharedToken = flag('shared-token') === 'true';
  const [gatewayPort, hivePort, marketPort] = await freePorts(3);
  const env = await createTestEnv('bench_fanout', {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    GATEWAY_PORT: String(gatewayPort),
    MARKET_DATA_PORT: String(marketPort),
    DB_POOL_MAX: '4',
    MARKET_FEED_SYMBOLS: SYMBOLS.join(','),
    MARKET_FEED_TICKS_PER_SECOND: String(TICKS_PER_SECOND),
  });
  const auth = await startAuthFixtures(env.config);
  const children: ChildProcess[] = [];
  try {
    const config: PlatformConfig = { ...env.config, jwksUrl: auth.jwksUrl, sessionsUrl: auth.sessionsUrl };
    const file = path.join(env.tmpDir, 'config.json');
    await writeFile(file, JSON.stringify(config));
    // The committed supergraph; Hive reads subgraph URLs from it, so its copy points market-data at
    // this run's port (our gateway takes the same URL from configuration).
    const committed = await readFile(config.SUPERGRAPH_PATH, 'utf8');
    const hiveSupergraph = path.join(env.tmpDir, 'supergraph.graphql');
    await writeFile(
      hiveSupergraph,
      committed.replace(
        /(@join__graph\(name: "market-data", url: ")[^"]+(")/,
        `$1http://127.0.0.1:${marketPort}/graphql$2`,
      ),
    );
    const market = await startChild(['--child', 'market-data', file]);
    children.push(market);
    const ours = only === 'hive' ? undefined : await startChild(['--child', 'gateway', file]);
    if (ours) children.push(ours);
    const hive =
      only === 'ours'
        ? undefined
        : await startChild(['--child', 'hive', file, hiveSupergraph, String(hivePort)]);
    if (hive) children.push(hive);

    const tenants = Array.from({ length: 10 }, () => randomUUID());
    const one = await auth.mint({ role: 'TRADER', tid: tenants[0] ?? '' }, { ttlSeconds: 3600 });
    const tokens = await Promise.all(
      Array.from({ length: count }, (_x, i) =>
        sharedToken
          ? Promise.resolve(one)
          : auth.mint(
              { role: 'TRADER', tid: tenants[i % tenants.length] ?? '', email: `sub${i}@example.com` },
              { ttlSeconds: 3600 },
            ),
      ),
    );
    console.log(
      `subscription fan-out: ${count} subscribers (${sharedToken ? 'one shared token' : `${count} users in 10 tenants`}) on ${SYMBOLS.length} symbols, feed ${TICKS_PER_SECOND} ticks/s, ${warmup} s warm-up + ${seconds} s measured, ${procs} subscriber processes; ${os.cpus().length} CPUs, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    const runs: [string, ChildProcess | undefined, number][] = [
      ['our gateway', ours, gatewayPort ?? 0],
      ['Hive Gateway', hive, hivePort ?? 0],
    ];
    const results: RunResult[] = [];
    for (const [name, proc, port] of runs) {
      if (!proc) continue;
      const r = await measure({
        name,
        url: `http://127.0.0.1:${port}/graphql`,
        gateway: proc,
        market,
        marketUrl: `http://127.0.0.1:${marketPort}/graphql`,
        tokens,
        procs,
        warmup,
        seconds,
        dir: env.tmpDir,
        ours: proc === ours,
      });
      print(r);
      results.push(r);
    }
    const [a, b] = results;
    if (a && b) {
      console.log(
        `  ours/Hive: delivered ${((100 * a.received) / Math.max(1, b.received)).toFixed(0)}%, p99 ${(a.p99 / b.p99).toFixed(2)}x`,
      );
    }
  } finally {
    for (const p of children.reverse()) {
      if (p.exitCode !== null) continue;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (p.exitCode === null) p.kill('SIGKILL');
    }
    await auth.stop();
    await env.cleanup();
  }
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args[1] as Role, args[2] ?? '', args[3]);
else if (args[0] === '--subscribers') await subscribers(args[1] ?? '');
else await main();
