/**
 * Tracing overhead at the gateway on the deployed path (issue 13: with no endpoint set, tracing must
 * cost under 3 % of gateway CPU). The platform runs as `make prod` starts it (bench/deployed-platform.ts),
 * 50 users, `{ me { id email } }` through :8000, three platforms one after the other:
 * 1. tracing off, as shipped, with the gateway's CPU profiled over the load (V8's profiler through the
 *    inspector, which NODE_OPTIONS opens on a loopback port): the share of its busy samples whose
 *    running function is OpenTelemetry's (the API's no-op tracer, context and propagation) or one of
 *    lib/telemetry.ts's helpers. That share is what "off" costs: there is no build without the calls
 *    to compare against;
 * 2. tracing off, no profiler: gateway CPU per request;
 * 3. tracing on, every request sampled, OTLP/protobuf to a sink here that discards it: the same figure,
 *    to show what turning tracing on costs.
 *
 * Run: `npx tsx bench/otel-overhead.ts [seconds=10] [connections=50] [users=50]`.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { PROJECT_ROOT } from '../lib/config.js';
import { eventually } from '../test/support/wait.js';
import { provisioned, registerUser, startDeployedPlatform } from './deployed-platform.js';
import { hasWrk, runLoad, type LoadResult } from './http-load.js';
import { cpuBetween, cpuSnapshot } from './proc-cpu.js';

const QUERY = '{ me { id email } }';

/** An OTLP/HTTP endpoint that accepts and discards every export (its cost is not the gateway's). */
async function startSink(): Promise<{
  endpoint: string;
  requests: () => number;
  close: () => Promise<void>;
}> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Run {
  load: LoadResult;
  gatewayUsPerRequest: number;
  /** The gateway's CPU profile over the measured load, when asked for. */
  profile?: CpuProfile;
}

/** A CPU profiler on a process's inspector (Chrome DevTools Protocol over its WebSocket). */
async function attachProfiler(
  inspectorUrl: string,
): Promise<{ start(): Promise<void>; stop(): Promise<CpuProfile> }> {
  const ws = new WebSocket(inspectorUrl);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let id = 0;
  const call = (method: string, params: object = {}): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const mine = ++id;
      const onMessage = (data: Buffer): void => {
        const msg = JSON.parse(data.toString()) as {
          id?: number;
          result?: Record<string, unknown>;
          error?: unknown;
        };
        if (msg.id !== mine) return;
        ws.off('message', onMessage);
        if (msg.error) reject(new Error(`${method}: ${JSON.stringify(msg.error)}`));
        else resolve(msg.result ?? {});
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id: mine, method, params }));
    });
  await call('Profiler.enable');
  return {
    start: async () => void (await call('Profiler.start')),
    async stop() {
      const { profile } = await call('Profiler.stop');
      ws.close();
      return profile as CpuProfile;
    },
  };
}

/** The inspector WebSocket URL the gateway printed to its log (NODE_OPTIONS=--inspect). */
function gatewayInspector(dataDir: string): Promise<string> {
  return eventually(
    async () => {
      const log = await readFile(path.join(dataDir, 'logs', 'gateway.log'), 'utf8').catch(() => '');
      return /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/.exec(log)?.[1];
    },
    "the gateway's inspector URL in its log",
    10_000,
    100,
  );
}

/** Starts a platform with `extra`, registers the users, warms up, measures one load; stops it. */
async function measure(
  name: string,
  extra: Record<string, string>,
  seconds: number,
  connections: number,
  users: number,
  profiled = false,
): Promise<Run> {
  const p = await startDeployedPlatform(
    name,
    profiled ? { ...extra, NODE_OPTIONS: '--inspect=127.0.0.1:0' } : extra,
  );
  try {
    const tokens: string[] = [];
    for (let i = 0; i < users; i++) tokens.push(await registerUser(p.graphqlUrl, i));
    await provisioned(p.graphqlUrl, tokens, p.vars);
    const spec = { url: p.graphqlUrl, body: JSON.stringify({ query: QUERY }), tokens, seconds, connections };
    await runLoad({ ...spec, seconds: 3 }, p.env.tmpDir); // JIT, plans, session caches, sockets
    const profiler = profiled ? await attachProfiler(await gatewayInspector(p.env.tmpDir)) : undefined;
    await profiler?.start();
    const before = cpuSnapshot([process.pid]);
    const load = await runLoad(spec, p.env.tmpDir);
    const profile = await profiler?.stop();
    const gateway = cpuBetween(before, cpuSnapshot([process.pid]), seconds).find(([l]) => l === 'gateway');
    if (load.errors > 0)
      console.log(`  (${name}: ${load.errors} errors under load, left out of the figures)`);
    return {
      load,
      gatewayUsPerRequest: ((gateway?.[1] ?? Number.NaN) * 1000) / Math.max(1, load.rps),
      ...(profile ? { profile } : {}),
    };
  } finally {
    await p.stop();
  }
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
}

/** Names of lib/telemetry.ts's functions (bundled into each dist/ bundle, so found by name there). */
async function telemetryHelperNames(): Promise<Set<string>> {
  const src = await readFile(path.join(PROJECT_ROOT, 'lib/telemetry.ts'), 'utf8');
  return new Set([...src.matchAll(/^export (?:async )?function (\w+)/gm)].map((m) => m[1] ?? ''));
}

/** Busy samples of a profile, and those whose running function is OpenTelemetry's. */
function telemetryShare(
  profile: CpuProfile,
  helpers: Set<string>,
): { busy: number; telemetry: number; top: [string, number][] } {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  let busy = 0;
  let telemetry = 0;
  const byFunction = new Map<string, number>();
  profile.samples.forEach((id) => {
    const f = frames.get(id);
    if (!f || f.functionName === '(idle)') return;
    busy++;
    const otel =
      f.url.includes('/@opentelemetry/') ||
      (/\/dist\/[\w.-]+\.c?js$/.test(f.url) && helpers.has(f.functionName));
    if (!otel) return;
    telemetry++;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/node_modules\//, '')}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + 1);
  });
  const top = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 5);
  return { busy, telemetry, top };
}

async function main(): Promise<void> {
  const [seconds = 10, connections = 50, users = 50] = process.argv.slice(2).map(Number);
  const off = { OTEL_EXPORTER_OTLP_ENDPOINT: '' };
  console.log(
    `tracing overhead at the gateway, deployed path: ${QUERY}, ${users} users, ${connections} connections, ${seconds} s per run, load: ${hasWrk() ? 'wrk' : 'node keep-alive loop'}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)}`,
  );

  const profiled = await measure('otelprof', off, seconds, connections, users, true);
  if (!profiled.profile) throw new Error('no profile of the gateway');
  const share = telemetryShare(profiled.profile, await telemetryHelperNames());
  const pct = (100 * share.telemetry) / Math.max(1, share.busy);
  console.log(
    `  tracing off, profiled: ${share.telemetry} of ${share.busy} busy gateway samples in OpenTelemetry code = ${pct.toFixed(2)}% (target < 3%)`,
  );
  for (const [fn, n] of share.top) console.log(`      ${String(n).padStart(5)}  ${fn}`);

  const shipped = await measure('oteloff', off, seconds, connections, users);
  const sink = await startSink();
  try {
    const on = await measure(
      'otelon',
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_TRACES_SAMPLER: 'always_on',
      },
      seconds,
      connections,
      users,
    );
    for (const [label, r] of [
      ['tracing off (shipped)', shipped],
      ['tracing on, every request sampled', on],
    ] as const) {
      console.log(
        `  ${label.padEnd(34)} ${r.load.rps.toFixed(0).padStart(6)} req/s  p99 ${r.load.p99.toFixed(1)} ms  gateway CPU ${r.gatewayUsPerRequest.toFixed(0)} µs/req`,
      );
    }
    const delta =
      (100 * (on.gatewayUsPerRequest - shipped.gatewayUsPerRequest)) / shipped.gatewayUsPerRequest;
    console.log(
      `  tracing on costs ${delta.toFixed(1)}% more gateway CPU per request; OTLP exports received: ${sink.requests()}`,
    );
  } finally {
    await sink.close();
  }
}

await main();
