/**
 * Gateway overhead (issue 2): one single-subgraph query at 50 concurrent connections, sent directly
 * to the subgraph and through the gateway, in the same run, printing req/s and p50/p99 for both.
 * Run: `npx tsx bench/gateway-overhead.ts [seconds=10] [connections=50] [--gateway-preload]` (the
 * gateway child with the platform's preloads, as bench/otel-overhead.ts compares).
 */
import type { ChildProcess } from 'node:child_process';
import { answerCpuRequests, cpuOf, spawnBenchChild } from './child.js';
import { GATEWAY_LIMITS_OFF } from './gateway-limits.js';
import { hasWrk, runLoad, type LoadResult } from './http-load.js';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { AccessTokenVerifier, CachedSessionLiveness } from '../lib/auth.js';
import type { Config } from '../lib/config.js';
import { buildRequestContext, type RequestContext } from '../lib/context.js';
import { createHttpService, type Service } from '../lib/http.js';
import { createLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { createGateway } from '../gateway/src/gateway.js';
import { composeSupergraph, startAuthFixtures } from '../gateway/test/support/harness.js';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { Redis } from 'ioredis';
import { loadConfig, processEnv } from '../lib/config.js';
import { freePorts } from '../test/support/env.js';
import { preloadArgs } from '../scripts/platform.js';

const SELF = fileURLToPath(import.meta.url);
const QUERY = 'query Bench { me { id email role tenantId } }';
const TYPE_DEFS = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
type Query { me: Viewer }
type Viewer @key(fields: "id") { id: ID!  email: String!  role: String!  tenantId: ID! }
`;

interface ChildSpec {
  role: 'subgraph' | 'gateway';
  config: Config;
}

/** The bench subgraph: `me` from the verified token, on `port`. */
function benchSubgraph(config: Config, port: number): Service {
  const logger = createLogger(config, 'bench-subgraph');
  const liveness = new CachedSessionLiveness(config, logger);
  const verifier = new AccessTokenVerifier(config, liveness);
  return createHttpService<RequestContext>({
    name: 'bench-subgraph',
    config,
    port,
    logger,
    metrics: createMetrics('bench-subgraph'),
    readiness: {},
    graphql: {
      schema: buildSubgraphSchema({
        typeDefs: parse(TYPE_DEFS),
        resolvers: {
          Query: {
            me: (_p: unknown, _a: unknown, ctx: unknown) => {
              const auth = (ctx as RequestContext).auth;
              return auth
                ? { id: auth.userId, email: auth.email, role: auth.role, tenantId: auth.tenantId }
                : null;
            },
          },
        },
      }),
      context: (req) =>
        buildRequestContext({ headers: req.headers, remoteAddress: req.ip, verifier, config, logger }),
    },
  });
}

/** Child process entry: `--child <spec.json> <port>`; prints `ready` once listening. */
async function child(specFile: string, port: number): Promise<void> {
  const spec = JSON.parse(await readFile(specFile, 'utf8')) as ChildSpec;
  const service =
    spec.role === 'subgraph'
      ? benchSubgraph(spec.config, port)
      : createGateway({ ...spec.config, GATEWAY_PORT: port });
  await service.start();
  // CPU used so far, on request: per-request CPU cost does not depend on what else the machine runs.
  answerCpuRequests();
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void service.stop().finally(() => process.exit(0));
  });
}

async function startChild(spec: ChildSpec, file: string, port: number): Promise<ChildProcess> {
  await writeFile(file, JSON.stringify(spec));
  // `--cpu-prof=<dir>` / `--heap-prof=<dir>` (after the positional arguments) profile the gateway
  // child (CPU, or sampled allocations).
  const flags: string[] = [];
  for (const kind of ['cpu', 'heap']) {
    const dir = process.argv.find((a) => a.startsWith(`--${kind}-prof=`))?.split('=')[1];
    if (dir && spec.role === 'gateway') flags.push(`--${kind}-prof`, `--${kind}-prof-dir=${dir}`);
  }
  const preload = spec.role === 'gateway' && process.argv.includes('--gateway-preload');
  return spawnBenchChild({
    script: SELF,
    args: ['--child', file, String(port)],
    nodeFlags: flags,
    ...(preload ? { imports: ['--import', 'tsx', ...preloadArgs('tsx')] } : {}),
    name: spec.role,
  });
}

interface Row {
  name: string;
  result: LoadResult;
  subgraphCpuUs: number;
  gatewayCpuUs: number;
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 10);
  const connections = Number(process.argv[3] ?? 50);
  // No database needed: a config of our own with free ports and a Redis prefix removed at the end.
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-bench-gateway-'));
  const [gatewayPort, subgraphPort] = await freePorts(2);
  const c = loadConfig({
    ...processEnv(),
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    REDIS_PREFIX: `bench:${randomBytes(4).toString('hex')}:`,
    SERVICE_TOKEN: randomBytes(32).toString('hex'),
    GATEWAY_PORT: String(gatewayPort),
    AUTH_PORT: String(subgraphPort),
    SUPERGRAPH_WATCH: 'false',
  });
  const auth = await startAuthFixtures(c);
  const procs: ChildProcess[] = [];
  try {
    const subgraphUrl = `http://127.0.0.1:${c.AUTH_PORT}`;
    const supergraphPath = path.join(tmpDir, 'supergraph.graphql');
    await writeFile(
      supergraphPath,
      composeSupergraph([{ name: 'bench', url: `${subgraphUrl}/graphql`, typeDefs: TYPE_DEFS }]),
    );
    const config: Config = {
      ...c,
      SUPERGRAPH_PATH: supergraphPath,
      jwksUrl: auth.jwksUrl,
      sessionsUrl: auth.sessionsUrl,
      ...GATEWAY_LIMITS_OFF,
    };
    procs.push(
      await startChild({ role: 'subgraph', config }, path.join(tmpDir, 'subgraph.json'), c.AUTH_PORT),
    );
    procs.push(
      await startChild({ role: 'gateway', config }, path.join(tmpDir, 'gateway.json'), c.GATEWAY_PORT),
    );

    const tokens = await Promise.all(
      Array.from({ length: Math.max(connections * 2, 100) }, (_x, i) =>
        auth.mint({ email: `bench${i}@example.com` }),
      ),
    );
    const shared = [tokens[0] ?? ''];
    const wrk = hasWrk();
    const body = JSON.stringify({ query: QUERY });
    const run = (url: string, toks: string[], secs: number): Promise<LoadResult> =>
      runLoad({ url, body, tokens: toks, seconds: secs, connections }, tmpDir);

    const direct = `${subgraphUrl}/graphql`;
    const viaGateway = `http://127.0.0.1:${c.GATEWAY_PORT}/graphql`;
    // Sanity: both answer the query with data before anything is measured.
    for (const u of [direct, viaGateway]) {
      const res = await fetch(u, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${shared[0] ?? ''}` },
        body: JSON.stringify({ query: QUERY }),
      });
      const json = (await res.json()) as { data?: { me?: unknown } };
      if (!json.data?.me) throw new Error(`${u} did not answer the bench query: ${JSON.stringify(json)}`);
    }
    // Warm-up (JIT, query plan and session caches, keep-alive sockets).
    await run(direct, tokens, 3);
    await run(viaGateway, tokens, 3);

    const [subgraphProc, gatewayProc] = procs as [ChildProcess, ChildProcess];
    const measured = async (name: string, url: string, toks: string[]): Promise<Row> => {
      const [s0, g0] = [await cpuOf(subgraphProc), await cpuOf(gatewayProc)];
      const result = await run(url, toks, seconds);
      const [s1, g1] = [await cpuOf(subgraphProc), await cpuOf(gatewayProc)];
      const n = Math.max(1, result.rps * seconds);
      return { name, result, subgraphCpuUs: (s1 - s0) / n, gatewayCpuUs: (g1 - g0) / n };
    };
    const rows: Row[] = [
      await measured('direct to subgraph', direct, tokens),
      await measured('through gateway', viaGateway, tokens),
      await measured('through gateway, one shared token (dedupe)', viaGateway, shared),
    ];
    console.log(`gateway overhead: ${QUERY}`);
    console.log(
      `${connections} connections, ${seconds} s per run, load generator: ${wrk ? 'wrk -t2' : 'node keep-alive loop'}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)}`,
    );
    for (const { name, result: r, subgraphCpuUs, gatewayCpuUs } of rows) {
      console.log(
        `  ${name.padEnd(44)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  errors ${r.errors}  CPU/request: subgraph ${subgraphCpuUs.toFixed(0)} µs, gateway ${gatewayCpuUs.toFixed(0)} µs`,
      );
    }
    const [d, g] = [rows[0]?.result, rows[1]?.result];
    if (d && g) {
      console.log(
        `  gateway/direct: throughput ${((100 * g.rps) / d.rps).toFixed(0)}% (target >= 60%), p99 ${(g.p99 / d.p99).toFixed(2)}x (target <= 2x)`,
      );
    }
  } finally {
    for (const p of procs.reverse()) {
      if (p.exitCode !== null) continue;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
    await auth.stop();
    const redis = new Redis(c.REDIS_URL);
    const keys = await redis.keys(`${c.REDIS_PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await rm(tmpDir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  await child(args[1] ?? '', Number(args[2]));
} else {
  await main();
}
