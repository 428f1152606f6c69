/**
 * Gateway overhead on the deployed path (issue 15): the platform as `make prod` starts it
 * (scripts/dev.ts, NODE_ENV=production: real auth, sessions and tenants, the Redis rate limits and
 * cost budget checked on every request), users registered through the gateway, each request with
 * the next user's token. Per query, in the same run: direct to the subgraph (one-fetch query), our
 * gateway, and Hive Gateway with its default runtime and with the Hive Router runtime (Rust
 * planner), each peer in a process of its own; req/s, latency and CPU per request of every process.
 * Run: `npx tsx bench/gateway-deployed.ts [seconds=10] [connections=50] [users=50]`; `--ours-only`
 * measures our gateway alone (no Hive, no direct: quick A/B runs), `--cpu-prof=DIR` has the gateway write a V8
 * CPU profile of each measured run into DIR (bench/cpu-profile.preload.ts; summarize one with
 * bench/cpu-profile-summary.ts), `--cpu-prof-roles=gateway,tenants` the processes named instead. `GATEWAY_*` variables from the shell reach the gateway (A/B of a
 * switch: `GATEWAY_LEAN_EXECUTOR=false npx tsx bench/gateway-deployed.ts ... --ours-only`).
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ingressHeaders } from '../lib/ingress.js';
import { signalChild } from '../lib/process-signal.js';
import { freePorts } from '../test/support/env.js';
import { spawnBenchChild } from './child.js';
import { profilePhase, profilingVars } from './cpu-profile-control.js';
import { provisioned, registerUser, shellSettings, startDeployedPlatform } from './deployed-platform.js';
import { hiveChild, writeRunSupergraph } from './fanout-hive.js';
import { hasWrk, runLoad, type LoadResult } from './http-load.js';
import { cpuBetween, cpuSnapshot } from './proc-cpu.js';

const SELF = fileURLToPath(import.meta.url);
const QUERIES = {
  'one subgraph': '{ me { id email } }',
  'two subgraphs': '{ me { id email memberships { role tenant { id organizationName status } } } }',
};

/** Fails unless `url` answers `query` with data for `token`. */
async function expectData(url: string, query: string, token: string, headers: Record<string, string>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { data?: { me?: unknown }; errors?: unknown };
  if (!body.data?.me || body.errors)
    throw new Error(`${url} did not answer ${query}: ${JSON.stringify(body)}`);
}

/**
 * `graphql_errors_total` of our gateway by code (its /metrics): answers with GraphQL errors are HTTP
 * 200 and count as successes for the load generator, so a run reports them from here.
 */
async function gatewayErrorCounts(baseUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/^graphql_errors_total\{[^}]*code="([^"]+)"[^}]*\} (\d+)/gm)) {
    counts.set(m[1] ?? '', (counts.get(m[1] ?? '') ?? 0) + Number(m[2]));
  }
  return counts;
}

/** What `after` counted beyond `before`, as `CODE n, ...` ("none" when nothing). */
function errorDelta(before: Map<string, number>, after: Map<string, number>): string {
  const parts = [...after]
    .map(([code, n]) => [code, n - (before.get(code) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .map(([code, n]) => `${code} ${n}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** Label of the process that is the gateway (proc-cpu labels), if any. */
  gateway?: string;
}

async function main(): Promise<void> {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const seconds = Number(positional[0] ?? 10);
  const connections = Number(positional[1] ?? 50);
  const users = Number(positional[2] ?? 50);
  const oursOnly = process.argv.includes('--ours-only');
  const profileDir = process.argv.find((a) => a.startsWith('--cpu-prof='))?.slice('--cpu-prof='.length);
  const profiledRoles = process.argv
    .find((a) => a.startsWith('--cpu-prof-roles='))
    ?.slice('--cpu-prof-roles='.length)
    .split(',') ?? ['gateway'];
  // Every client here is 127.0.0.1: the limits stay on (each request runs its checks) but are set
  // above what the load reaches (bench/deployed-platform.ts).
  const fromShell = shellSettings(['GATEWAY_', 'SUBGRAPH_']);
  if (Object.keys(fromShell).length > 0)
    console.log(`gateway variables from the shell: ${JSON.stringify(fromShell)}`);
  const deployed = await startDeployedPlatform('gwdeployed', async (env) => ({
    ...fromShell,
    ...(profileDir ? await profilingVars(profileDir, profiledRoles, env.tmpDir) : {}),
  }));
  const { env, vars, platform } = deployed;
  const hives: Awaited<ReturnType<typeof spawnBenchChild>>[] = [];
  try {
    const gatewayUrl = `${platform.gatewayUrl}/graphql`;
    const tokens: string[] = [];
    for (let i = 0; i < users; i++) tokens.push(await registerUser(gatewayUrl, i));
    await provisioned(gatewayUrl, tokens, deployed.vars);

    // Hive serves the committed supergraph with the subgraph URLs of this run.
    const supergraph = await writeRunSupergraph(vars, env.tmpDir);
    const ingress = ingressHeaders({ SERVICE_TOKEN: vars['SERVICE_TOKEN'] ?? '' });
    const headersFile = path.join(env.tmpDir, 'ingress.json');
    await writeFile(headersFile, JSON.stringify(ingress));
    const [hivePort, routerPort] = await freePorts(2);
    for (const [runtime, port] of oursOnly
      ? []
      : ([
          ['default', hivePort],
          ['router', routerPort],
        ] as const)) {
      hives.push(
        await spawnBenchChild({
          script: SELF,
          args: ['--hive', supergraph, String(port), runtime, headersFile],
          name: `hive gateway (${runtime})`,
        }),
      );
    }

    const ours: Target = { name: 'TradeSage gateway', url: gatewayUrl, headers: {}, gateway: 'gateway' };
    const peers: Target[] = oursOnly
      ? []
      : [
          {
            name: 'Hive Gateway',
            url: `http://127.0.0.1:${hivePort}/graphql`,
            headers: {},
            gateway: 'hive default',
          },
          {
            name: 'Hive Gateway + Router runtime',
            url: `http://127.0.0.1:${routerPort}/graphql`,
            headers: {},
            gateway: 'hive router',
          },
        ];
    const direct: Target = {
      name: 'direct to auth',
      url: `http://127.0.0.1:${vars['AUTH_PORT']}/graphql`,
      headers: ingress,
    };

    console.log(`gateway overhead on the deployed path (make prod's processes), ${users} users`);
    console.log(
      `${connections} connections, ${seconds} s per run, load: ${hasWrk() ? 'wrk -t2' : 'node keep-alive loop'}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)}`,
    );
    for (const [label, query] of Object.entries(QUERIES)) {
      const targets = label === 'one subgraph' && !oursOnly ? [direct, ours, ...peers] : [ours, ...peers];
      const body = JSON.stringify({ query });
      for (const t of targets) {
        await expectData(t.url, query, tokens[0] ?? '', t.headers);
        // Warm-up: JIT, plans, token and session caches, keep-alive sockets.
        await runLoad({ url: t.url, body, tokens, headers: t.headers, seconds: 3, connections }, env.tmpDir);
      }
      console.log(`\n${label}: ${query}`);
      const results: [Target, LoadResult][] = [];
      for (const t of targets) {
        const profiled = profileDir !== undefined && t === ours;
        if (profiled) await profilePhase(profileDir, 'start', profiledRoles);
        const errorsBefore = t === ours ? await gatewayErrorCounts(platform.gatewayUrl) : undefined;
        const before = cpuSnapshot([process.pid]);
        const r = await runLoad(
          { url: t.url, body, tokens, headers: t.headers, seconds, connections },
          env.tmpDir,
        );
        const cpu = cpuBetween(before, cpuSnapshot([process.pid]), seconds);
        if (profiled) await profilePhase(profileDir, `stop ${label.replace(' ', '-')}`, profiledRoles);
        results.push([t, r]);
        // CPU per request of each process that worked (µs), the load generator left out.
        const perRequest = cpu
          .filter(([l]) => !l.startsWith('load') && !l.startsWith('wrk'))
          .map(([l, msPerS]) => [l, (msPerS * 1000) / Math.max(1, r.rps)] as const)
          .filter(([, us]) => us >= 5);
        const gw = perRequest.find(([l]) => l === t.gateway)?.[1];
        console.log(
          `  ${t.name.padEnd(30)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  errors ${r.errors}` +
            `${gw === undefined ? '' : `  gateway CPU ${gw.toFixed(0)} µs/req`}`,
        );
        console.log(
          `      CPU µs/request: ${perRequest.map(([l, us]) => `${l} ${us.toFixed(0)}`).join(', ')}`,
        );
        if (errorsBefore) {
          const delta = errorDelta(errorsBefore, await gatewayErrorCounts(platform.gatewayUrl));
          console.log(`      GraphQL errors in the gateway's answers: ${delta}`);
        }
      }
      const rpsOf = (t: Target): number => results.find(([x]) => x === t)?.[1].rps ?? Number.NaN;
      const summary = [
        label === 'one subgraph' && !oursOnly
          ? `gateway/direct ${(rpsOf(ours) / rpsOf(direct)).toFixed(2)}x (target >= 0.8)`
          : '',
        ...peers.map((p) => `vs ${p.name} ${(rpsOf(ours) / rpsOf(p)).toFixed(2)}x (target >= 3)`),
      ].filter(Boolean);
      console.log(`  ${summary.join('; ')}`);
    }
  } finally {
    for (const h of hives) {
      const exited = new Promise((r) => h.once('exit', r));
      if (signalChild(h, 'SIGTERM')) await exited;
    }
    await deployed.stop();
  }
}

if (process.argv[2] === '--hive') {
  await hiveChild(process.argv.slice(3));
} else {
  await main();
}
