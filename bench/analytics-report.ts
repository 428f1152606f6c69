/**
 * performanceReport on a large account (issue 6): 5 years of weekday daily snapshots (~1,300 rows),
 * 5 years of benchmark closes and 100,000 closed trades. Cold (the account's cache invalidated before
 * each request) and cached, sent through the gateway (:8000 role, the client's path) and directly to
 * the analytics subgraph (the gateway's share is the difference), printing p50/p95/p99/max.
 */
import { type ChildProcess } from 'node:child_process';
import { answerCpuRequests, cpuOf, spawnBenchChild } from './child.js';
import { GATEWAY_LIMITS_OFF } from './gateway-limits.js';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlatformConfig } from '../scripts/platform-config.js';
import { tenantSchemaName } from '../lib/db.js';
import { createMetrics } from '../lib/metrics.js';
import { createRedis } from '../lib/redis.js';
import { createGateway } from '../gateway/src/gateway.js';
import { startAuthFixtures } from '../gateway/test/support/harness.js';
import { ingressHeaders } from '../lib/ingress.js';
import { createAnalyticsMetrics } from '../subgraphs/analytics/src/analytics.metrics.js';
import { ReportCache } from '../subgraphs/analytics/src/report.cache.js';
import { createAnalyticsService, REDIS_NAMESPACE } from '../subgraphs/analytics/src/service.js';
import { provisionActive, startHarness } from '../subgraphs/tenants/test/support/harness.js';

const SELF = fileURLToPath(import.meta.url);

/**
 * Every field of PerformanceReport (subgraphs/analytics/schema.graphql); `--no-curve` leaves the equity
 * curve out (what its ~1,300 points cost on each path).
 */
const NO_CURVE = process.argv.includes('--no-curve');
/** `--executed`: a directive on the root field makes analytics execute it field by field (src/report.response.ts steps aside). */
const EXECUTED = process.argv.includes('--executed');
const QUERY = `query PerformanceReport($id: ID!) {
  performanceReport(accountId: $id) ${EXECUTED ? '@include(if: true) ' : ''}{
    accountId from to observations totalReturn annualizedReturn volatility sharpe sortino maxDrawdown
    drawdown { depth peakAt troughAt recoveredAt durationDays }
    calmar
    bestDay { at return }
    worstDay { at return }
    monthlyReturns { month return }
    ${NO_CURVE ? '' : 'equityCurve { at equity externalFlow cumulativeReturn drawdown }'}
    startEquity endEquity netExternalFlows riskFreeRate
    trades { count wins losses winRate profitFactor payoffRatio totalPnl expectancy averageWin averageLoss averageHoldingSeconds }
    benchmark { symbol observations alpha beta correlation benchmarkReturn }
    generatedAt
  }
}`;

interface ChildSpec {
  role: 'analytics' | 'gateway';
  config: PlatformConfig;
}

/** Child process entry: `--child <spec.json>`; prints `ready` once listening. */
async function child(specFile: string): Promise<void> {
  const spec = JSON.parse(await readFile(specFile, 'utf8')) as ChildSpec;
  const service =
    spec.role === 'analytics' ? createAnalyticsService(spec.config) : createGateway(spec.config);
  await service.start();
  // CPU used so far, on request: per-request CPU does not depend on what else the machine runs.
  answerCpuRequests();
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void service.stop().finally(() => process.exit(0));
  });
}

async function startChild(spec: ChildSpec, file: string, profDir: string | undefined): Promise<ChildProcess> {
  await writeFile(file, JSON.stringify(spec));
  // One folder per child: tsx's loader thread writes a profile of its own next to the main thread's.
  const flags = profDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profDir, spec.role)}`] : [];
  return spawnBenchChild({ script: SELF, args: ['--child', file], nodeFlags: flags, name: spec.role });
}

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const fmt = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  const f = (x: number): string => `${x.toFixed(1)} ms`.padStart(9);
  return `p50 ${f(pct(s, 50))}  p95 ${f(pct(s, 95))}  p99 ${f(pct(s, 99))}  max ${f(s.at(-1) ?? Number.NaN)}  (n=${s.length})`;
};

/**
 * Topology, as deployed: the analytics subgraph and the gateway each run in a child process of
 * their own, built by their real factories (`createAnalyticsService`, `createGateway` over the
 * committed supergraph, NODE_ENV=production). This process holds the test namespace (a throw-away
 * database where the real tenants service and worker provision the tenant), the JWKS and
 * session-liveness fixtures, and the client. The query is the full report a client sends (every
 * field of `PerformanceReport`, equity curve included) with a verified access token. The two paths
 * alternate request by request, and each child's CPU time per request is printed (it does not depend
 * on the machine's load, which the wall-clock figures do: the machine is shared).
 *
 * Run: `npx tsx bench/analytics-report.ts [coldRuns=40] [cachedRuns=400] [--no-curve] [--executed] [--explain]`
 * (`--explain`: EXPLAIN ANALYZE of the report's reads). Loopback only.
 * `--cpu-prof=<dir>` (after the positional arguments) writes V8 CPU profiles of both children.
 */
async function main(): Promise<void> {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const coldRuns = Number(positional[0] ?? 40);
  const cachedRuns = Number(positional[1] ?? 400);
  const profArg = process.argv.find((a) => a.startsWith('--cpu-prof='));
  const profDir = profArg ? path.resolve(profArg.slice('--cpu-prof='.length)) : undefined;

  const h = await startHarness('bench_analytics', {
    ANALYTICS_SNAPSHOTS_ENABLED: 'false',
    ANALYTICS_TRADE_CONSUMER_ENABLED: 'false',
    DB_POOL_MAX: '10',
  });
  const auth = await startAuthFixtures(h.config);
  const procs: ChildProcess[] = [];
  const cacheRedis = createRedis(h.config, 'commands', `${h.config.REDIS_PREFIX}${REDIS_NAMESPACE}`);
  try {
    const user = randomUUID();
    const tenantId = await provisionActive(h, user, 'Bench Fund');
    const schema = tenantSchemaName(tenantId);
    const account = (await h.admin.query<{ id: string }>(`SELECT id FROM ${schema}.accounts LIMIT 1`)).rows[0]
      ?.id;
    if (!account) throw new Error('no account');

    const t0 = performance.now();
    // A seeded random walk of weekday equity (0.06 % drift, ~1.2 % daily volatility), 5 years back,
    // and the benchmark's daily closes over the same days (correlated with it).
    await h.admin.query('SELECT setseed(0.42)');
    await h.admin.query(
      `CREATE TEMP TABLE walk AS
       SELECT d, 100000 * exp(sum(0.0006 + 0.0204 * (random() * 2 - 1)) OVER (ORDER BY d)) AS e,
              400 * exp(sum(0.0004 + 0.0150 * (random() * 2 - 1)) OVER (ORDER BY d)) AS b
         FROM generate_series(current_date - interval '5 years', current_date - interval '1 day', interval '1 day') d
        WHERE extract(isodow FROM d) < 6`,
    );
    await h.admin.query(
      `INSERT INTO ${schema}.equity_snapshots (account_id, kind, at, snapshot_day, equity, cash, external_flow)
       SELECT $1, 'daily', d + interval '21 hours', d::date, round(e::numeric, 4), round(e::numeric, 4), 0 FROM walk`,
      [account],
    );
    await h.admin.query(
      `INSERT INTO market.bars_1d (symbol, bucket, open, high, low, close, volume, pv, trades, open_ts, close_ts)
       SELECT $1, d, c, c, c, c, 1, c, 1, d, d FROM (SELECT d, round(b::numeric, 4) AS c FROM walk) s`,
      [h.config.ANALYTICS_BENCHMARK_SYMBOL],
    );
    await h.admin.query(
      `INSERT INTO ${schema}.closed_trades (account_id, symbol, direction, quantity, entry_price, exit_price, pnl, opened_at, closed_at, trade_id)
       SELECT $1, 'AAPL', CASE WHEN i % 3 = 0 THEN 'SHORT' ELSE 'LONG' END, 10, 100, 100, round((random() * 200 - 90)::numeric, 4),
              now() - make_interval(mins => i * 20 + 60), now() - make_interval(mins => i * 20), i::text
         FROM generate_series(1, 100000) i`,
      [account],
    );
    await h.admin.query(
      `ANALYZE ${schema}.equity_snapshots; ANALYZE ${schema}.closed_trades; ANALYZE market.bars_1d`,
    );
    const snapshots = (
      await h.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.equity_snapshots`)
    ).rows[0]?.n;
    console.log(
      `seeded ${snapshots} daily snapshots, as many benchmark closes and 100000 closed trades in ${(performance.now() - t0).toFixed(0)} ms`,
    );

    if (process.argv.includes('--explain')) {
      // The report's three reads, as the repositories send them, with their plans and timings.
      const c = await h.admin.connect();
      try {
        await c.query(`SET search_path TO ${schema}`);
        for (const [name, sql, params] of [
          [
            'daily snapshots',
            `SELECT at, equity::text AS equity, external_flow::text AS flow FROM equity_snapshots
              WHERE account_id = $1 AND kind = 'daily'
                AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at <= $3)
              ORDER BY at`,
            [account, null, null],
          ],
          [
            'trade aggregates (whole days from closed_trade_days, none partial: no from/to)',
            `SELECT sum(n) AS count, sum(w) AS wins, sum(l) AS losses, sum(gp)::text AS gp, sum(gl)::text AS gl, sum(hold)::text AS hold
               FROM (SELECT trades AS n, wins AS w, losses AS l, gross_profit AS gp, gross_loss AS gl, holding_seconds AS hold
                       FROM closed_trade_days WHERE account_id = $1
                        AND ($4::timestamptz IS NULL OR day >= ($4::timestamptz AT TIME ZONE 'UTC')::date)
                        AND ($5::timestamptz IS NULL OR day < ($5::timestamptz AT TIME ZONE 'UTC')::date)
                     UNION ALL
                     SELECT count(*), count(*) FILTER (WHERE pnl > 0), count(*) FILTER (WHERE pnl < 0),
                            coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0), coalesce(sum(pnl) FILTER (WHERE pnl < 0), 0),
                            coalesce(sum(extract(epoch FROM closed_at - opened_at)), 0)
                       FROM closed_trades WHERE account_id = $1
                        AND (($4::timestamptz IS NOT NULL AND closed_at >= $2 AND closed_at < $4)
                          OR ($5::timestamptz IS NOT NULL AND closed_at >= $5 AND closed_at <= $3))) s`,
            [account, null, null, null, null],
          ],
          [
            'trade aggregates over the raw rows (before closed_trade_days)',
            `SELECT count(*), count(*) FILTER (WHERE pnl > 0), count(*) FILTER (WHERE pnl < 0),
                    coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0)::text, coalesce(sum(pnl) FILTER (WHERE pnl < 0), 0)::text,
                    coalesce(sum(extract(epoch FROM closed_at - opened_at)), 0)::text
               FROM closed_trades WHERE account_id = $1`,
            [account],
          ],
          [
            'benchmark closes',
            `SELECT to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, close::text AS close
               FROM market.bars_1d WHERE symbol = $1 AND bucket >= $2 AND bucket <= $3 ORDER BY bucket`,
            [h.config.ANALYTICS_BENCHMARK_SYMBOL, new Date(0), new Date()],
          ],
        ] as const) {
          for (let i = 0; i < 3; i++) await c.query(sql, [...params]);
          const plan = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, [
            ...params,
          ]);
          console.log(`--- ${name}\n${plan.rows.map((r) => r['QUERY PLAN']).join('\n')}`);
        }
      } finally {
        c.release();
      }
    }

    const config: PlatformConfig = {
      ...h.config,
      NODE_ENV: 'production',
      isProduction: true,
      introspection: false,
      LOG_LEVEL: 'warn',
      jwksUrl: auth.jwksUrl,
      sessionsUrl: auth.sessionsUrl,
      ...GATEWAY_LIMITS_OFF,
    };
    procs.push(
      await startChild({ role: 'analytics', config }, path.join(h.env.tmpDir, 'analytics.json'), profDir),
    );
    procs.push(
      await startChild({ role: 'gateway', config }, path.join(h.env.tmpDir, 'gateway.json'), profDir),
    );
    const [analyticsProc, gatewayProc] = procs as [ChildProcess, ChildProcess];

    const token = await auth.mint({ sub: user, tid: tenantId, role: 'OWNER' });
    const cache = new ReportCache(
      cacheRedis,
      h.config.ANALYTICS_CACHE_TTL_SECONDS,
      createAnalyticsMetrics(createMetrics('bench').registry),
    );
    const body = JSON.stringify({ query: QUERY, variables: { id: account } });
    let bytes = 0;
    const call = async (url: string): Promise<number> => {
      const start = performance.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          authorization: `Bearer ${token}`,
          // Needed on the direct path (lib/ingress); the gateway ignores it.
          ...ingressHeaders(config),
        },
        body,
      });
      const text = await res.text();
      const ms = performance.now() - start;
      const json = JSON.parse(text) as {
        errors?: unknown;
        data?: { performanceReport?: { equityCurve?: unknown[]; benchmark: unknown } };
      };
      const report = json.data?.performanceReport;
      if (
        json.errors ||
        !report ||
        (!NO_CURVE && (report.equityCurve?.length ?? 0) < 1000) ||
        !report.benchmark
      ) {
        throw new Error(`unexpected answer from ${url}: ${text.slice(0, 500)}`);
      }
      bytes = text.length;
      return ms;
    };

    const endpoints = [
      { name: 'through gateway', url: `http://127.0.0.1:${config.GATEWAY_PORT}/graphql` },
      { name: 'direct to subgraph', url: `${config.analyticsUrl}/graphql` },
    ];
    // Warm-up (JIT, connection pools, query plans, session caches), cold and cached, both paths.
    for (let i = 0; i < 10; i++) {
      for (const e of endpoints) {
        await cache.invalidate(tenantId, account);
        await call(e.url);
        await call(e.url);
      }
    }
    console.log(`response: ${(bytes / 1024).toFixed(0)} KiB of JSON`);

    // The two paths alternate request by request, so a change in the machine's load (it is shared)
    // hits both alike. CPU is sampled around each request (outside the timed part).
    const load0 = os.loadavg()[0] ?? 0;
    interface Series {
      ms: number[];
      analyticsUs: number;
      gatewayUs: number;
    }
    const series = (): Series => ({ ms: [], analyticsUs: 0, gatewayUs: 0 });
    const results = endpoints.map(() => ({ cold: series(), cached: series() }));
    const measure = async (url: string, into: Series): Promise<void> => {
      const [a0, g0] = [await cpuOf(analyticsProc), await cpuOf(gatewayProc)];
      into.ms.push(await call(url));
      const [a1, g1] = [await cpuOf(analyticsProc), await cpuOf(gatewayProc)];
      into.analyticsUs += a1 - a0;
      into.gatewayUs += g1 - g0;
    };
    for (let i = 0; i < coldRuns; i++) {
      for (const [k, e] of endpoints.entries()) {
        await cache.invalidate(tenantId, account);
        await measure(e.url, results[k]!.cold);
      }
    }
    await call(endpoints[0]!.url);
    for (let i = 0; i < cachedRuns; i++) {
      for (const [k, e] of endpoints.entries()) await measure(e.url, results[k]!.cached);
    }
    const load1 = os.loadavg()[0] ?? 0;
    const cpu = (x: Series): string =>
      `CPU/request: analytics ${(x.analyticsUs / x.ms.length / 1000).toFixed(1)} ms, gateway ${(x.gatewayUs / x.ms.length / 1000).toFixed(1)} ms`;
    const rows: string[] = [];
    for (const [k, e] of endpoints.entries()) {
      const r = results[k]!;
      rows.push(`${`${e.name}, cold`.padEnd(28)} ${fmt(r.cold.ms)}  ${cpu(r.cold)}`);
      rows.push(`${`${e.name}, cached`.padEnd(28)} ${fmt(r.cached.ms)}  ${cpu(r.cached)}`);
    }
    console.log(
      `performanceReport (${NO_CURVE ? 'every field but the equity curve' : 'every field'}${EXECUTED ? ', executed field by field' : ''}), ${os.cpus().length} CPUs, load average ${load0.toFixed(2)} -> ${load1.toFixed(2)}`,
    );
    for (const r of rows) console.log(`  ${r}`);
    // Which executor answered through the gateway (the single-fetch path or Apollo's re-shaping one).
    const metrics = await (await fetch(`http://127.0.0.1:${config.GATEWAY_PORT}/metrics`)).text();
    const paths = metrics.split('\n').filter((l) => l.startsWith('gateway_query_path_total{'));
    console.log(`  gateway query paths: ${paths.join(', ') || 'none counted'}`);
  } finally {
    for (const p of procs.reverse()) {
      if (p.exitCode !== null) continue;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
    cacheRedis.disconnect();
    await auth.stop();
    await h.stop();
  }
  if (profDir) console.log(`CPU profiles in ${profDir}`);
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args[1] ?? '');
else await main();
