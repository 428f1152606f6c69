/**
 * performanceReport on a large account (issue 6): 5 years of daily snapshots (weekdays, ~1,300 rows)
 * and 100,000 closed trades, cold (cache invalidated before each request) and cached, printing
 * p50/p95/max. The request goes to the analytics subgraph over HTTP with a verified JWT (the
 * gateway's own overhead is measured by bench/gateway-overhead.ts).
 *
 * A tenant is provisioned by the real tenants service and worker in a throw-away database (the
 * test harness), so the report reads a real tenant schema through withTenant.
 *
 * Run: `npx tsx bench/analytics-report.ts [coldRuns=30] [cachedRuns=300]`. Loopback only.
 */
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { tenantSchemaName } from '../lib/db.js';
import { provisionActive, startHarness } from '../subgraphs/tenants/test/support/harness.js';
import { createAnalyticsService } from '../subgraphs/analytics/src/service.js';

const coldRuns = Number(process.argv[2] ?? 30);
const cachedRuns = Number(process.argv[3] ?? 300);
/** `nocurve` leaves the equity curve out of the query (shows what its 1,300 points cost). */
const variant = process.argv[4] ?? 'full';

const QUERY = `query($id: ID!) { performanceReport(accountId: $id) {
  observations totalReturn annualizedReturn volatility sharpe sortino maxDrawdown calmar
  drawdown { depth peakAt troughAt recoveredAt durationDays } bestDay { at return } worstDay { at return }
  monthlyReturns { month return } ${variant === 'nocurve' ? '' : 'equityCurve { at equity cumulativeReturn drawdown }'}
  trades { count wins losses winRate profitFactor payoffRatio totalPnl expectancy averageHoldingSeconds }
  benchmark { symbol alpha beta } generatedAt } }`;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

const fmt = (xs: number[]): string =>
  `p50 ${pct(xs, 50).toFixed(2)} ms  p95 ${pct(xs, 95).toFixed(2)} ms  max ${Math.max(...xs).toFixed(2)} ms  (n=${xs.length})`;

async function main(): Promise<void> {
  const h = await startHarness('bench_analytics', {
    ANALYTICS_PORT: '0',
    ANALYTICS_SNAPSHOTS_ENABLED: 'false',
    ANALYTICS_TRADE_CONSUMER_ENABLED: 'false',
    DB_POOL_MAX: '10',
  });
  const user = randomUUID();
  const tenantId = await provisionActive(h, user, 'Bench Fund');
  const schema = tenantSchemaName(tenantId);
  const account = (await h.admin.query<{ id: string }>(`SELECT id FROM ${schema}.accounts LIMIT 1`)).rows[0]
    ?.id;
  if (!account) throw new Error('no account');

  const t0 = performance.now();
  // A seeded random walk of weekday equity (0.06 % drift, 1.2 % daily volatility), 5 years back.
  await h.admin.query(
    `INSERT INTO ${schema}.equity_snapshots (account_id, kind, at, snapshot_day, equity, cash, external_flow)
     SELECT $1, 'daily', d + interval '21 hours', d::date, e, e, 0
       FROM (SELECT d, 100000 * exp(sum(0.0006 + 0.012 * (random() * 2 - 1) * 1.7) OVER (ORDER BY d)) AS e
               FROM generate_series(current_date - interval '5 years', current_date - interval '1 day', interval '1 day') d
              WHERE extract(isodow FROM d) < 6) s`,
    [account],
  );
  await h.admin.query(
    `INSERT INTO ${schema}.closed_trades (account_id, symbol, direction, quantity, entry_price, exit_price, pnl, opened_at, closed_at, trade_id)
     SELECT $1, 'AAPL', CASE WHEN i % 3 = 0 THEN 'SHORT' ELSE 'LONG' END, 10, 100, 100, round((random() * 200 - 90)::numeric, 4),
            now() - make_interval(mins => i * 20 + 60), now() - make_interval(mins => i * 20), i::text
       FROM generate_series(1, 100000) i`,
    [account],
  );
  await h.admin.query(`ANALYZE ${schema}.equity_snapshots; ANALYZE ${schema}.closed_trades`);
  const snapshots = (
    await h.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.equity_snapshots`)
  ).rows[0]?.n;
  console.log(
    `seeded ${snapshots} daily snapshots and 100000 closed trades in ${(performance.now() - t0).toFixed(0)} ms`,
  );

  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'EdDSA' };
  const token = await new SignJWT({
    sid: randomUUID(),
    tid: tenantId,
    role: 'OWNER',
    adm: false,
    email: 'b@x.io',
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'bench' })
    .setSubject(user)
    .setIssuer(h.config.JWT_ISSUER)
    .setAudience(h.config.JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('30m')
    .sign(privateKey);
  const service = createAnalyticsService(h.config, {
    jwks: createLocalJWKSet({ keys: [jwk] }),
    sessions: null,
  });
  const { url } = await service.start();
  try {
    const call = async (): Promise<number> => {
      const start = performance.now();
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: QUERY, variables: { id: account } }),
      });
      const body = (await res.json()) as { errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return performance.now() - start;
    };
    for (let i = 0; i < 3; i++) await call(); // warm-up (JIT, pool, prepared plans)
    const cold: number[] = [];
    for (let i = 0; i < coldRuns; i++) {
      await service.runtime().cache.invalidate(tenantId, account);
      cold.push(await call());
    }
    const cached: number[] = [];
    await call();
    for (let i = 0; i < cachedRuns; i++) cached.push(await call());
    console.log(`performanceReport cold:   ${fmt(cold)}`);
    console.log(`performanceReport cached: ${fmt(cached)}`);
  } finally {
    await service.stop();
    await h.stop();
  }
}

await main();
