/**
 * Subscription fan-out (issues 4 and 15): N concurrent graphql-ws subscribers to
 * `priceUpdated(symbols: [...]) { symbol price timestamp instrument { name } }` through a gateway of
 * the platform as `make prod` runs it, fed by market-data's own simulator. Per gateway (ours, then
 * Hive Gateway in the same run): time until every socket is acknowledged, CPU per connection of every
 * process, memory per idle subscriber, then delivered messages/s, tick-to-client latency, peak RSS
 * and CPU under the feed. Usage and flags: see {@link main}.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { PROJECT_ROOT } from '../lib/config.js';
import { ingressHeaders } from '../lib/ingress.js';
import { signalChild, signalDescendant } from '../lib/process-signal.js';
import { createTestEnv } from '../test/support/env.js';
import { freePorts } from '../test/support/env.js';
import { runCommandEnv, startRunCommand, withOpenFileLimit } from '../test/support/run-command.js';
import { startTestSshd } from '../test/support/sshd.js';
import { answerCpuRequests, spawnBenchChild } from './child.js';
import { backgroundSettled, deployedDefaults, LIMITS_ABOVE_LOAD } from './deployed-platform.js';
import {
  BUCKET_MS,
  BUCKETS,
  runSubscribers,
  type ClientReport,
  type ClientSpec,
  type ConnectReport,
} from './fanout-clients.js';
import { startHiveGateway } from './fanout-hive.js';
import { cpuBetween, cpuSnapshot, pidsLabelled } from './proc-cpu.js';

const SELF = fileURLToPath(import.meta.url);
const ALL_SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'JPM', 'SPY', 'BTCUSD'];
/** In the instrument catalog, never in the feed: subscribers on it are idle. */
const IDLE_SYMBOL = 'TLT';
const PROBE_QUERY = `subscription Prices($symbols: [ID!]!) {
  priceUpdated(symbols: $symbols) { symbol price timestamp instrument { name } }
}`;

function flag(name: string): string | undefined {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`) || x === `--${name}`);
  return a === undefined ? undefined : a.includes('=') ? a.slice(a.indexOf('=') + 1) : 'true';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resident set size now and at its peak (VmRSS, VmHWM), in bytes. */
async function rssOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Sums of the metrics named `prefix*` (over their labels) of a service's /metrics. */
async function metricsOf(base: string, prefix: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const m = /^(\w+)(?:\{[^}]*\})? ([\d.e+-]+)$/.exec(line);
    if (m?.[1] && m[2]) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  }
  return out;
}

/** The open-file limit the bench's processes get: `nofile`, capped at the hard limit (withOpenFileLimit). */
function openFiles(nofile: number): string {
  const hard = execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  return hard === 'unlimited' || Number(hard) >= nofile ? String(nofile) : `${hard} (the hard limit)`;
}

/** Environment of processes that answer {@link control} (bench/control.preload.js). */
function controlEnv(dir: string): Record<string, string> {
  return {
    NODE_OPTIONS: `--import ${path.join(path.dirname(SELF), 'control.preload.js')}`,
    BENCH_CONTROL_DIR: path.join(dir, 'control'),
  };
}

/** Asks a process started with {@link controlEnv} to run `cmd`; resolves with its answer. */
async function control(dir: string, pid: number, cmd: string): Promise<string> {
  const file = (ext: string): string => path.join(dir, 'control', `${pid}.${ext}`);
  await mkdir(path.join(dir, 'control'), { recursive: true });
  await rm(file('out'), { force: true });
  await writeFile(file('cmd'), cmd);
  if (!signalDescendant(pid, 'SIGUSR2')) throw new Error(`process ${pid} is gone`);
  for (let i = 0; i < 300; i++) {
    await sleep(100);
    const out = await readFile(file('out'), 'utf8').catch(() => undefined);
    if (out) return out;
  }
  throw new Error(`process ${pid} did not answer ${cmd}`);
}

/** process.memoryUsage() of a process after a full garbage collection. */
async function memoryAfterGc(dir: string, pid: number): Promise<NodeJS.MemoryUsage> {
  return JSON.parse(await control(dir, pid, 'gc')) as NodeJS.MemoryUsage;
}

/** Heap in use of one of our services (prom-client's default metrics), bytes. */
async function heapOf(base: string): Promise<number> {
  return (await metricsOf(base, 'nodejs_heap_size_used_bytes'))['nodejs_heap_size_used_bytes'] ?? NaN;
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

/** Resolves with the next IPC message of `c` (rejects if it exits first). */
function nextMessage<T>(c: ChildProcess, send?: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`subscriber process exited (${code})`));
    c.once('exit', onExit);
    c.once('message', (m) => {
      c.off('exit', onExit);
      resolve(m as T);
    });
    if (send) c.send(send);
  });
}

interface Target {
  name: string;
  /** Base URL (no path). */
  base: string;
  /** The gateway's process. */
  pid: number;
  /** proc-cpu label of the gateway process. */
  label: string;
  /** Ours: its /metrics has heap and subscription metrics. */
  ours: boolean;
  /** First octets of the subscriber processes' loopback source addresses (`127.0.<n>.<proc>`). */
  net: number;
}

interface RunOptions {
  tokens: string[];
  procs: number;
  concurrency: number;
  symbols: string[];
  perSubscriber: number;
  warmup: number;
  seconds: number;
  dir: string;
  nofile: number;
  marketBase: string;
  roots: number[];
}

const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MB`;

async function measure(t: Target, o: RunOptions): Promise<void> {
  const n = o.tokens.length;
  const per = Math.ceil(n / o.procs);
  const clients: ChildProcess[] = [];
  const all = <T>(send?: string): Promise<T[]> => Promise.all(clients.map((c) => nextMessage<T>(c, send)));
  try {
    for (let p = 0; p < o.procs; p++) {
      const file = path.join(o.dir, `${t.label.replace(/\W/g, '-')}-clients-${p}.json`);
      const spec: ClientSpec = {
        url: `${t.base.replace(/^http/, 'ws')}/graphql`,
        tokens: o.tokens.slice(p * per, (p + 1) * per),
        localAddress: `127.0.${t.net}.${p + 1}`,
        idleSymbol: IDLE_SYMBOL,
        symbols: o.symbols,
        perSubscriber: o.perSubscriber,
        concurrency: o.concurrency,
        recordTicks: p === 0,
      };
      await writeFile(file, JSON.stringify(spec));
      const [command, argv] = withOpenFileLimit(
        process.execPath,
        ['--import', 'tsx', SELF, '--subscribers', file],
        o.nofile,
      );
      clients.push(spawn(command, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    }
    await all<string>(); // 'ready'
    await probe(`${t.base.replace(/^http/, 'ws')}/graphql`, o.tokens[0] ?? '');
    const mem0 = await memoryAfterGc(o.dir, t.pid);
    // What every process spends with no subscriber (the feed, timers), subtracted below.
    const idle0 = cpuSnapshot(o.roots);
    const i0 = performance.now();
    await sleep(3000);
    const idleCpu = new Map(cpuBetween(idle0, cpuSnapshot(o.roots), (performance.now() - i0) / 1000));

    // Connection setup: every socket acknowledged with one (idle) subscription.
    const cpu0 = cpuSnapshot(o.roots);
    const c0 = performance.now();
    const profile = flag('cpu-prof');
    if (profile) await control(o.dir, t.pid, 'profile-start');
    const connected = await all<ConnectReport>('connect');
    const connectS = (performance.now() - c0) / 1000;
    if (profile) {
      await control(o.dir, t.pid, 'profile-stop');
      const to = path.join(path.resolve(profile), `${t.label.replace(/\W/g, '-')}-connect.cpuprofile`);
      await copyFile(path.join(o.dir, 'control', `${t.pid}.cpuprofile`), to);
      console.log(`    CPU profile of the connection phase: ${to}`);
    }
    const cpuConnect = cpuBetween(cpu0, cpuSnapshot(o.roots), connectS)
      .map(([l, v]): [string, number] => [l, v - (idleCpu.get(l) ?? 0)])
      .filter(([, v]) => v > 0);
    const acked = connected.reduce((a, r) => a + r.acked, 0);
    const lastAck = Math.max(...connected.map((r) => r.lastAckMs)) / 1000;
    const attempts = connected.reduce((a, r) => a + r.attempts, 0);
    console.log(
      `  ${t.name}: ${acked}/${n} connected in ${lastAck.toFixed(1)} s (${(acked / lastAck).toFixed(0)}/s, ${o.concurrency * o.procs} handshakes in flight at most; ${attempts} sockets opened)`,
    );
    await sleep(3000);
    // A gateway still busy with its connections may not get to the request (Hive Gateway at 10,000):
    // the run goes on without the memory figure, to the feed, as far as the gateway gets.
    const mem1 = await memoryAfterGc(o.dir, t.pid).catch((err: unknown) => {
      console.log(`    idle subscribers, after a full GC: not measured (${(err as Error).message})`);
      return undefined;
    });
    console.log(
      `    CPU per connection: ${cpuConnect
        .filter(([l]) => !l.startsWith('load'))
        .map(([l, msPerS]) => `${l} ${((msPerS * 1000 * connectS) / Math.max(1, acked)).toFixed(0)} µs`)
        .join(', ')}`,
    );
    const each = (a: number, b: number): string =>
      `${((b - a) / Math.max(1, acked) / 1024).toFixed(1)} KB each`;
    if (mem1) {
      console.log(
        `    idle subscribers, after a full GC: heap ${mb(mem0.heapUsed)} -> ${mb(mem1.heapUsed)}, ${each(mem0.heapUsed, mem1.heapUsed)}; ` +
          `RSS ${mb(mem0.rss)} -> ${mb(mem1.rss)}, ${each(mem0.rss, mem1.rss)}; external+buffers ${each(mem0.external, mem1.external)}`,
      );
    }

    // The feed.
    const started = (await all<{ started: number }>('subscribe')).reduce((a, r) => a + r.started, 0);
    await sleep(o.warmup * 1000);
    const before = t.ours ? await metricsOf(t.base, 'gateway_subscription') : undefined;
    const published0 = (await metricsOf(o.marketBase, 'market_'))['market_ticks_published_total'] ?? 0;
    const cpu1 = cpuSnapshot(o.roots);
    if (profile) await control(o.dir, t.pid, 'profile-start');
    for (const c of clients) c.send('start');
    const t0 = performance.now();
    let heapPeak = mem1?.heapUsed ?? 0;
    let load = os.loadavg()[0] ?? 0;
    while (performance.now() - t0 < o.seconds * 1000) {
      await sleep(1000);
      if (t.ours) heapPeak = Math.max(heapPeak, await heapOf(t.base));
      load = Math.max(load, os.loadavg()[0] ?? 0);
    }
    const after = t.ours ? await metricsOf(t.base, 'gateway_subscription') : undefined;
    const published =
      ((await metricsOf(o.marketBase, 'market_'))['market_ticks_published_total'] ?? 0) - published0;
    // Before the subscriber processes exit: a process gone between snapshots cannot be labelled.
    const cpuRun = cpuBetween(cpu1, cpuSnapshot(o.roots), (performance.now() - t0) / 1000);
    if (profile) {
      await control(o.dir, t.pid, 'profile-stop');
      const to = path.join(path.resolve(profile), `${t.label.replace(/\W/g, '-')}-feed.cpuprofile`);
      await copyFile(path.join(o.dir, 'control', `${t.pid}.cpuprofile`), to);
      console.log(`    CPU profile of the feed phase: ${to}`);
    }
    const reports = await all<ClientReport>('stop');
    const elapsed = (performance.now() - t0) / 1000;
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
      for (const e of r.errorSamples) console.log(`    error sample: ${e}`);
    }
    // Each subscriber is due every tick of the symbols it named.
    const due = (published * n * o.perSubscriber) / o.symbols.length;
    const mem2 = await rssOf(t.pid);
    console.log(
      `    ${(received / elapsed).toFixed(0)} msgs/s delivered (${((100 * received) / Math.max(1, due)).toFixed(1)}% of ${(due / elapsed).toFixed(0)}/s due)  p50 ${quantile(hist, received, 0.5).toFixed(1)} ms  p99 ${quantile(hist, received, 0.99).toFixed(1)} ms  max ${maxMs.toFixed(0)} ms  errors ${errors}  closed ${closed}  started ${started}/${n}`,
    );
    console.log(
      `    gateway RSS peak ${mb(mem2.peak)}${t.ours ? `, heap peak ${mb(heapPeak)}` : ''}; load average up to ${load.toFixed(1)}`,
    );
    console.log(
      `    CPU % of a core: ${cpuRun.map(([l, msPerS]) => `${l} ${(msPerS / 10).toFixed(0)}%`).join(', ')}`,
    );
    const gw = cpuRun.find(([l]) => l === t.label)?.[1] ?? 0;
    const clientCpu = reports.reduce((a, r) => a + r.cpuUs, 0) / elapsed;
    console.log(
      `    CPU per delivered message: gateway ${((gw * 1000) / Math.max(1, received / elapsed)).toFixed(1)} µs, subscribers ${(clientCpu / Math.max(1, received / elapsed)).toFixed(1)} µs; feed ${(published / elapsed).toFixed(1)} ticks/s, the first subscriber got ${reports[0]?.ticks ?? 0} of its ${Math.round((published * o.perSubscriber) / o.symbols.length)}`,
    );
    if (before && after) {
      const d = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
      console.log(
        `    metrics: upstreams ${after['gateway_subscription_upstreams']}, events in ${d('gateway_subscription_events_in_total')}, out ${d('gateway_subscription_events_out_total')}, conflated ${d('gateway_subscription_events_conflated_total')}, dropped ${d('gateway_subscription_events_dropped_total')}`,
      );
    }
  } finally {
    for (const c of clients) {
      if (c.exitCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      if (signalChild(c, 'SIGTERM')) await exited;
    }
  }
}

/**
 * One subscriber that connects, subscribes and leaves, before anything is measured: what a gateway
 * builds once for its first subscriber (the subscription planner) is not counted per connection.
 */
async function probe(url: string, token: string): Promise<void> {
  const ws = new WebSocket(url, 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('open', () =>
      ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
    );
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as { type: string };
      if (m.type !== 'connection_ack') return;
      const variables = { symbols: [IDLE_SYMBOL] };
      ws.send(JSON.stringify({ id: 'p', type: 'subscribe', payload: { query: PROBE_QUERY, variables } }));
      setTimeout(resolve, 1000);
    });
  });
  ws.close(1000);
}

/** Registers `users` users (each with an organization of its own) and signs in `sessions` times. */
async function sessionsOf(graphql: string, users: number, sessions: number): Promise<string[]> {
  const post = async (
    query: string,
    variables: unknown,
  ): Promise<Record<string, { accessToken: string }>> => {
    const send = (): Promise<Response> =>
      fetch(graphql, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
    // A keep-alive socket the server closed as it was reused (ECONNRESET): sent again on a new one.
    const res = await send().catch(() => send());
    const body = (await res.json()) as { data?: Record<string, { accessToken: string }>; errors?: unknown };
    if (!body.data) throw new Error(`${query.slice(0, 40)}: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
  const password = 'correct horse battery staple';
  const run = randomUUID().slice(0, 8);
  const emails = Array.from({ length: users }, (_x, i) => `sub${i}-${run}@bench.example`);
  const tokens: string[] = [];
  const inParallel = async (count: number, work: (i: number) => Promise<void>): Promise<void> => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < count) await work(next++);
      }),
    );
  };
  await inParallel(users, async (i) => {
    const r = await post('mutation R($input: RegisterInput!) { register(input: $input) { accessToken } }', {
      input: { email: emails[i], password, organizationName: `Fan-out ${i}` },
    });
    tokens[i] = r['register']?.accessToken ?? '';
  });
  await inParallel(sessions - users, async (i) => {
    const r = await post('mutation L($input: LoginInput!) { login(input: $input) { accessToken } }', {
      input: { email: emails[i % users], password },
    });
    tokens[users + i] = r['login']?.accessToken ?? '';
  });
  return tokens;
}

/**
 * Run: `npx tsx bench/subscription-fanout.ts [seconds=30] [subscribers=1000]`, flags:
 * `--ticks-per-second=<n>` the feed's rate in total across its symbols (default 50),
 * `--symbols=<n>` the feed's symbols (the first n of ten, default 10), `--symbols-per-subscriber=<n>`
 * how many of them each subscriber names (default all; with 1 they are spread evenly),
 * `--users=<n>` registered users (default one per 20 subscribers; every subscriber has a session of
 * its own: the users sign in again), `--client-procs=<n>` (default 4), `--connect-concurrency=<n>`
 * handshakes in flight per subscriber process (default 64), `--nofile=<n>` open-file limit of every
 * process (default 65536, capped at the hard limit), `--warmup=<s>` (5), `--only=ours|hive`,
 * `--cpu-prof=<dir>` (CPU profiles of each gateway while the subscribers connect, and during the feed).
 *
 * The platform runs as `make prod` starts it (scripts/dev.ts from dist/, NODE_ENV=production): real
 * auth, sessions and market-data, Redis rate limits and caps checked on every connection and
 * subscribe but set above the load (every client is on loopback). Only argon2's cost is lowered, so
 * that signing in thousands of sessions takes seconds; no measured path hashes passwords.
 */
async function main(): Promise<void> {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const seconds = Number(positional[0] ?? 30);
  const count = Number(positional[1] ?? 1000);
  const ticksPerSecond = Number(flag('ticks-per-second') ?? 50);
  const symbols = ALL_SYMBOLS.slice(0, Number(flag('symbols') ?? ALL_SYMBOLS.length));
  const perSubscriber = Math.min(symbols.length, Number(flag('symbols-per-subscriber') ?? symbols.length));
  // One user per 20 sessions: sessions keeps at most SESSIONS_MAX_PER_USER (50) live per user.
  const users = Math.min(count, Number(flag('users') ?? Math.ceil(count / 20)));
  const procs = Number(flag('client-procs') ?? 4);
  const only = flag('only');
  const nofile = Number(flag('nofile') ?? 65536);
  const env = await createTestEnv('bench_fanout');
  const sshd = await startTestSshd(env.tmpDir);
  const high = '1000000000';
  const vars = await runCommandEnv(env, {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    ...LIMITS_ABOVE_LOAD,
    ...deployedDefaults(),
    LOGIN_THROTTLE_PER_IP: high,
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
    ARGON2_CONCURRENCY: '2',
    ACCESS_TOKEN_TTL_SECONDS: '7200',
    MARKET_FEED_SYMBOLS: symbols.join(','),
    MARKET_FEED_TICKS_PER_SECOND: String(ticksPerSecond),
    ...sshd.env,
    ...controlEnv(env.tmpDir),
  });
  const platform = await startRunCommand(vars, { nofile });
  let hive: ChildProcess | undefined;
  try {
    const roots = [process.pid];
    const t0 = performance.now();
    const tokens = await sessionsOf(`${platform.gatewayUrl}/graphql`, users, count);
    const made = performance.now();
    // Every user's tenant is provisioned and backed up (INITIAL) in the background: done before measuring.
    await backgroundSettled(vars);
    console.log(
      `subscription fan-out: ${count} subscribers (${count} sessions of ${users} users), each on ${perSubscriber} of ${symbols.length} symbols, feed ${ticksPerSecond} ticks/s in total; ${flag('warmup') ?? 5} s warm-up + ${seconds} s measured; ${procs} subscriber processes; open files ${openFiles(nofile)}; ${os.cpus().length} CPUs, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(
          ' ',
        )}; sessions made in ${((made - t0) / 1000).toFixed(0)} s, their tenants' provisioning and INITIAL backups done ${((performance.now() - made) / 1000).toFixed(0)} s later`,
    );
    const opts: RunOptions = {
      tokens,
      procs,
      concurrency: Number(flag('connect-concurrency') ?? 64),
      symbols,
      perSubscriber,
      warmup: Number(flag('warmup') ?? 5),
      seconds,
      dir: env.tmpDir,
      nofile,
      marketBase: `http://127.0.0.1:${vars['MARKET_DATA_PORT']}`,
      roots,
    };
    if (only !== 'hive') {
      const [pid] = pidsLabelled(roots, 'gateway');
      if (!pid) throw new Error('no gateway process found');
      await measure(
        { name: 'our gateway', base: platform.gatewayUrl, pid, label: 'gateway', ours: true, net: 1 },
        opts,
      );
    }
    if (only !== 'ours') {
      // Hive serves the committed supergraph with this run's market-data URL.
      const sdl = (await readFile(path.join(PROJECT_ROOT, 'schema/supergraph.graphql'), 'utf8')).replaceAll(
        'http://127.0.0.1:8005/graphql',
        `${opts.marketBase}/graphql`,
      );
      const supergraph = path.join(env.tmpDir, 'supergraph.graphql');
      await writeFile(supergraph, sdl);
      const headers = path.join(env.tmpDir, 'ingress.json');
      await writeFile(
        headers,
        JSON.stringify(ingressHeaders({ SERVICE_TOKEN: vars['SERVICE_TOKEN'] ?? '' })),
      );
      const [port] = await freePorts(1);
      hive = await spawnBenchChild({
        script: SELF,
        args: ['--hive', supergraph, String(port), headers],
        name: 'hive gateway',
        nofile,
        env: controlEnv(env.tmpDir),
      });
      const base = `http://127.0.0.1:${port}`;
      await measure(
        { name: 'Hive Gateway', base, pid: hive.pid ?? 0, label: 'hive default', ours: false, net: 2 },
        opts,
      );
    }
  } finally {
    if (hive) {
      const exited = new Promise((r) => hive?.once('exit', r));
      if (signalChild(hive, 'SIGTERM')) await exited;
    }
    await platform.stop();
    await sshd.stop();
    await env.cleanup();
  }
}

/** Child entry: `--hive <supergraph> <port> <headers.json>`. */
async function hiveChild([supergraph = '', port = '0', headersFile = '']: string[]): Promise<void> {
  const headers = JSON.parse(await readFile(headersFile, 'utf8')) as Record<string, string>;
  const hive = await startHiveGateway(supergraph, Number(port), headers);
  answerCpuRequests();
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void hive.stop().finally(() => process.exit(0));
  });
}

const args = process.argv.slice(2);
if (args[0] === '--hive') await hiveChild(args.slice(1));
else if (args[0] === '--subscribers')
  await runSubscribers(JSON.parse(await readFile(args[1] ?? '', 'utf8')) as ClientSpec);
else await main();
