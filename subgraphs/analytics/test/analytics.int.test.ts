/**
 * The analytics subgraph against real Postgres and Redis: two tenants provisioned by the tenants
 * service and worker (the template applies analytics' migrations), reports from seeded snapshots,
 * cache invalidation by a trade event on trading's stream, snapshot backfill, dashboards with
 * version conflicts, ownership and tenant isolation.
 */
import { randomUUID } from 'node:crypto';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantSchemaName } from '../../../lib/db.js';
import { createRedis, type Redis } from '../../../lib/redis.js';
import { subgraphGql, type GraphQLResult } from '../../../test/support/graphql.js';
import { provisionActive, startHarness, type Harness } from '../../../test/support/services.js';
import { createTestSigner } from '../../../test/support/tokens.js';
import { eventually } from '../../../test/support/wait.js';
import { loadSubgraphSchema } from '../../../lib/subgraph-service.js';
import { installedVersions } from '../../../test/support/versions.js';
import { answersDirectly, REPORT_RESPONSE_VERIFIED_WITH } from '../src/report.response.js';
import { resolvers } from '../src/resolvers/index.js';
import { createAnalyticsService, type AnalyticsService } from '../src/service.js';

let h: Harness;
let analytics: AnalyticsService;
let url: string;
let redis: Redis;
let sign: (userId: string, tenantId: string) => Promise<string>;

const alice = randomUUID();
const carol = randomUUID();
const bob = randomUUID();
let tenantA: string;
let tenantB: string;
let accountA: string;
let accountB: string;
let schemaA: string;
let schemaB: string;

const gql = <T>(
  query: string,
  variables: Record<string, unknown>,
  token?: string,
): Promise<GraphQLResult<T>> => subgraphGql<T>(url, query, variables, token);

const code = (r: GraphQLResult<unknown>): string | undefined => r.errors?.[0]?.extensions?.code;

beforeAll(async () => {
  h = await startHarness('analytics', {
    ANALYTICS_PORT: '0',
    ANALYTICS_SNAPSHOTS_ENABLED: 'false',
    ANALYTICS_RISK_FREE_RATE: '0',
    ANALYTICS_ROLLING_WINDOW_DAYS: '2',
    ANALYTICS_BENCHMARK_SYMBOL: 'QQQ',
    ANALYTICS_TRADE_STREAM_MAX_DELIVERIES: '2',
    ANALYTICS_TRADE_STREAM_RETRY_MS: '100',
  });
  [tenantA, tenantB] = await Promise.all([
    provisionActive(h, alice, 'Alpha Analytics'),
    provisionActive(h, bob, 'Beta Analytics'),
  ]);
  schemaA = tenantSchemaName(tenantA);
  schemaB = tenantSchemaName(tenantB);
  const idOf = async (schema: string): Promise<string> => {
    const r = await h.admin.query<{ id: string }>(`SELECT id FROM ${schema}.accounts LIMIT 1`);
    const id = r.rows[0]?.id;
    if (!id) throw new Error('no paper account');
    return id;
  };
  accountA = await idOf(schemaA);
  accountB = await idOf(schemaB);

  const signer = await createTestSigner(h.config, 'analytics-test');
  sign = (userId, tenantId) => signer.sign({ userId, tenantId, role: 'TRADER', email: 'x@example.com' });
  analytics = createAnalyticsService(h.config, {
    jwks: signer.jwks,
    sessions: null,
  });
  ({ url } = await analytics.start());
  redis = createRedis(h.config, 'commands');

  // Tenant A: daily snapshots (Mon 2024-01-08 .. Fri 2024-01-12) with a 1,000,000 deposit on Thursday.
  // Returns: +10 %, -10 %, +10 %, +10 %  (the deposit is not a return).
  const snaps: [string, string, string][] = [
    ['2024-01-08', '100000', '0'],
    ['2024-01-09', '110000', '0'],
    ['2024-01-10', '99000', '0'],
    ['2024-01-11', '1108900', '1000000'],
    ['2024-01-12', '1219790', '0'],
  ];
  for (const [day, equity, flow] of snaps) {
    await h.admin.query(
      `INSERT INTO ${schemaA}.equity_snapshots (account_id, kind, at, snapshot_day, equity, cash, external_flow)
       VALUES ($1, 'daily', $2, $3, $4, $4, $5)`,
      [accountA, `${day}T21:00:00Z`, day, equity, flow],
    );
  }
  // Benchmark closes moving +5 %, -5 %, +5 %, +5 %: exactly half the account's daily returns.
  for (const [day, close] of [
    ['2024-01-08', '200'],
    ['2024-01-09', '210'],
    ['2024-01-10', '199.5'],
    ['2024-01-11', '209.475'],
    ['2024-01-12', '219.94875'],
  ]) {
    await h.admin.query(
      `INSERT INTO market.bars_1d (symbol, bucket, open, high, low, close, volume, pv, trades, open_ts, close_ts)
       VALUES ('QQQ', $1, $2, $2, $2, $2, 1, $2, 1, $1, $1)`,
      [`${day}T00:00:00Z`, close],
    );
  }
  // Closed trades: +100 (1 h), -50 (2 h), +30 (3 h).
  for (const [pnl, hours] of [
    ['100', 1],
    ['-50', 2],
    ['30', 3],
  ] as const) {
    await h.admin.query(
      `INSERT INTO ${schemaA}.closed_trades (account_id, symbol, direction, quantity, entry_price, exit_price, pnl, opened_at, closed_at, trade_id)
       VALUES ($1, 'AAPL', 'LONG', 1, 1, 1, $2, $3::timestamptz - make_interval(hours => $4), $3, $5)`,
      [accountA, pnl, '2024-01-10T15:00:00Z', hours, randomUUID()],
    );
  }
});

afterAll(async () => {
  await analytics?.stop().catch(() => undefined);
  redis?.disconnect();
  await h?.stop();
});

const PERF = `query($id: ID!, $from: DateTime, $to: DateTime) {
  performanceReport(accountId: $id, from: $from, to: $to) {
    observations totalReturn annualizedReturn volatility sharpe sortino maxDrawdown calmar generatedAt
    drawdown { depth peakAt troughAt recoveredAt durationDays }
    bestDay { at return } worstDay { at return }
    monthlyReturns { month return }
    equityCurve { at equity cumulativeReturn drawdown }
    netExternalFlows
    trades { count wins losses winRate profitFactor payoffRatio totalPnl expectancy averageHoldingSeconds }
    benchmark { symbol observations alpha beta correlation benchmarkReturn }
  }
}`;
const RANGE = { from: '2024-01-01T00:00:00Z', to: '2024-01-31T00:00:00Z' };

interface Perf {
  performanceReport: {
    observations: number;
    totalReturn: number;
    annualizedReturn: number | null;
    volatility: number | null;
    sharpe: number | null;
    sortino: number | null;
    maxDrawdown: number;
    calmar: number | null;
    generatedAt: string;
    drawdown: {
      depth: number;
      peakAt: string;
      troughAt: string;
      recoveredAt: string | null;
      durationDays: number;
    };
    bestDay: { at: string; return: number };
    worstDay: { at: string; return: number };
    monthlyReturns: { month: string; return: number }[];
    equityCurve: { at: string; equity: string; cumulativeReturn: number; drawdown: number }[];
    netExternalFlows: string;
    trades: {
      count: number;
      wins: number;
      losses: number;
      winRate: number;
      profitFactor: number;
      payoffRatio: number;
      totalPnl: string;
      expectancy: string;
      averageHoldingSeconds: number;
    };
    benchmark: {
      symbol: string;
      observations: number;
      alpha: number;
      beta: number;
      correlation: number;
      benchmarkReturn: number;
    } | null;
  };
}

describe('performanceReport', () => {
  it('computes the report from seeded snapshots and closed trades', async () => {
    const r = await gql<Perf>(PERF, { id: accountA, ...RANGE }, await sign(alice, tenantA));
    expect(r.errors).toBeUndefined();
    const p = r.data!.performanceReport;
    expect(p.observations).toBe(4);
    // 1.1 * 0.9 * 1.1 * 1.1 - 1: the deposit does not count.
    expect(p.totalReturn).toBeCloseTo(0.1979, 10);
    // mean 0.05, sd of (0.1, -0.1, 0.1, 0.1) = 0.1 -> 0.1 * sqrt(252)
    expect(p.volatility).toBeCloseTo(0.1 * Math.sqrt(252), 8);
    expect(p.sharpe).toBeCloseTo((0.05 / 0.1) * Math.sqrt(252), 8);
    // downside sqrt(0.01 / 4) = 0.05
    expect(p.sortino).toBeCloseTo((0.05 / 0.05) * Math.sqrt(252), 8);
    expect(p.maxDrawdown).toBeCloseTo(0.1, 10);
    expect(p.drawdown).toMatchObject({
      peakAt: '2024-01-09T21:00:00.000Z',
      troughAt: '2024-01-10T21:00:00.000Z',
      // 1.089 on Thursday is still below the 1.1 peak; Friday's 1.1979 recovers it.
      recoveredAt: '2024-01-12T21:00:00.000Z',
      durationDays: 3,
    });
    expect(p.calmar).toBeCloseTo((p.annualizedReturn ?? 0) / 0.1, 6);
    expect(p.worstDay).toEqual({
      at: '2024-01-10T21:00:00.000Z',
      return: expect.closeTo(-0.1, 10) as number,
    });
    expect(p.monthlyReturns).toHaveLength(1);
    expect(p.monthlyReturns[0]?.return).toBeCloseTo(0.1979, 10);
    expect(p.equityCurve.map((e) => e.equity)).toEqual([
      '100000.0000',
      '110000.0000',
      '99000.0000',
      '1108900.0000',
      '1219790.0000',
    ]);
    expect(p.equityCurve[2]?.drawdown).toBeCloseTo(0.1, 10);
    expect(p.netExternalFlows).toBe('1000000');
    expect(p.trades).toMatchObject({ count: 3, wins: 2, losses: 1, totalPnl: '80', expectancy: '26.6667' });
    expect(p.trades.winRate).toBeCloseTo(2 / 3, 10);
    expect(p.trades.profitFactor).toBeCloseTo(130 / 50, 10);
    expect(p.trades.payoffRatio).toBeCloseTo(65 / 50, 10);
    expect(p.trades.averageHoldingSeconds).toBeCloseTo(7200, 6);
    // r = 2 b exactly: beta 2, alpha 0 (risk-free 0), correlation 1.
    expect(p.benchmark).toMatchObject({ symbol: 'QQQ', observations: 4 });
    expect(p.benchmark?.beta).toBeCloseTo(2, 8);
    expect(p.benchmark?.alpha).toBeCloseTo(0, 8);
    expect(p.benchmark?.correlation).toBeCloseTo(1, 8);
    expect(p.benchmark?.benchmarkReturn).toBeCloseTo(1.05 ** 3 * 0.95 - 1, 10);
  });

  it('runs report.response.ts on the library versions it was verified against (its upgrade note)', () => {
    expect(installedVersions(REPORT_RESPONSE_VERIFIED_WITH)).toEqual(REPORT_RESPONSE_VERIFIED_WITH);
  });

  it('answers plain selections directly exactly as graphql execution would (src/report.response.ts)', async () => {
    const token = await sign(alice, tenantA);
    const fields = `__typename accountId from to observations totalReturn annualizedReturn volatility sharpe sortino
      maxDrawdown dd: drawdown { __typename depth peakAt troughAt recoveredAt durationDays } calmar
      bestDay { at return } worstDay { at return } monthlyReturns { month r: return }
      equityCurve { at equity externalFlow cumulativeReturn drawdown } startEquity endEquity netExternalFlows
      riskFreeRate trades { count wins losses winRate profitFactor payoffRatio totalPnl expectancy averageWin
      averageLoss averageHoldingSeconds } benchmark { symbol observations alpha beta correlation benchmarkReturn }
      generatedAt`;
    const direct = `query($id: ID!, $from: DateTime, $to: DateTime) {
      report: performanceReport(accountId: $id, from: $from, to: $to) { ${fields} } }`;
    // A directive is left to execution by the plugin: the same report (cached), executed field by field.
    const executed = `query($id: ID!, $from: DateTime, $to: DateTime) {
      report: performanceReport(accountId: $id, from: $from, to: $to) @include(if: true) { ${fields} } }`;
    const schema = loadSubgraphSchema('analytics', resolvers);
    const opOf = (q: string): OperationDefinitionNode => {
      const op = parse(q).definitions[0];
      if (op?.kind !== Kind.OPERATION_DEFINITION) throw new Error('no operation');
      return op;
    };
    expect(answersDirectly(schema, opOf(direct))).toBe(true);
    expect(answersDirectly(schema, opOf(executed))).toBe(false);
    const cases = [
      { vars: { id: accountA, ...RANGE }, token },
      { vars: { id: accountA }, token },
      { vars: { id: accountB }, token: await sign(bob, tenantB) },
    ];
    for (const { vars, token: t } of cases) {
      const a = await gql(direct, vars, t);
      const b = await gql(executed, vars, t);
      expect(a.errors).toBeUndefined();
      expect(JSON.stringify(a.data)).toBe(JSON.stringify(b.data)); // same values, same key order
    }
    const risk = `query($id: ID!) { riskReport(accountId: $id) { __typename accountId equity valueAtRisk95
      expectedShortfall95 valueAtRisk99 expectedShortfall99 varMethod horizonDays observations grossExposure
      netExposure exposureBySymbol { key gross net share } exposureByAssetClass { key gross net share }
      concentration { largestSymbol largestShare herfindahl } rollingVolatility { at volatility } generatedAt } }`;
    expect(answersDirectly(schema, opOf(risk))).toBe(true);
    const r1 = await gql(risk, { id: accountA }, token);
    const r2 = await gql(
      risk.replace('riskReport(accountId: $id)', 'riskReport(accountId: $id) @skip(if: false)'),
      {
        id: accountA,
      },
      token,
    );
    expect(r1.errors).toBeUndefined();
    expect(JSON.stringify(r1.data)).toBe(JSON.stringify(r2.data));
    // Errors keep execution's codes (the plugin steps aside).
    expect(code(await gql(direct, { id: accountA }, await sign(bob, tenantB)))).toBe('NOT_FOUND');
    expect(code(await gql(direct, { id: accountA }))).toBe('UNAUTHENTICATED');
  });

  it('answers an empty report for an account without history', async () => {
    const r = await gql<Perf>(PERF, { id: accountB, ...RANGE }, await sign(bob, tenantB));
    expect(r.errors).toBeUndefined();
    expect(r.data!.performanceReport).toMatchObject({
      observations: 0,
      totalReturn: 0,
      annualizedReturn: null,
      volatility: null,
      sharpe: null,
      maxDrawdown: 0,
      equityCurve: [],
      trades: { count: 0, winRate: null, profitFactor: null },
    });
  });

  it("is NOT_FOUND for another tenant's account, UNAUTHENTICATED without a token", async () => {
    expect(code(await gql(PERF, { id: accountA }, await sign(bob, tenantB)))).toBe('NOT_FOUND');
    expect(code(await gql(PERF, { id: 'not-a-uuid' }, await sign(bob, tenantB)))).toBe('NOT_FOUND');
    expect(code(await gql(PERF, { id: accountA }))).toBe('UNAUTHENTICATED');
    const backwards = { id: accountA, from: RANGE.to, to: RANGE.from };
    expect(code(await gql(PERF, backwards, await sign(alice, tenantA)))).toBe('BAD_USER_INPUT');
  });

  it('is cached, and a trade event for the account invalidates the cache', async () => {
    const token = await sign(alice, tenantA);
    const first = (await gql<Perf>(PERF, { id: accountA, ...RANGE }, token)).data!.performanceReport;
    const again = (await gql<Perf>(PERF, { id: accountA, ...RANGE }, token)).data!.performanceReport;
    expect(again.generatedAt).toBe(first.generatedAt); // served from the cache
    // Change the stored data behind the cache: the cached report does not see it...
    await h.admin.query(
      `INSERT INTO ${schemaA}.closed_trades (account_id, symbol, direction, quantity, entry_price, exit_price, pnl, opened_at, closed_at, trade_id)
       VALUES ($1, 'MSFT', 'LONG', 1, 1, 1, -10, '2024-01-11T10:00:00Z', '2024-01-11T11:00:00Z', 'seed')`,
      [accountA],
    );
    const stale = (await gql<Perf>(PERF, { id: accountA, ...RANGE }, token)).data!.performanceReport;
    expect(stale.trades.count).toBe(3);

    // ...until trading announces a trade of the account on its stream.
    const stream = `${h.config.REDIS_PREFIX}trading:trades`;
    const tradeId = randomUUID();
    await redis.xadd(stream, '*', ...tradeFields(tradeId, 'BUY', '10', '100', '2024-01-11T12:00:00Z'));
    const fresh = await eventually(async () => {
      const p = (await gql<Perf>(PERF, { id: accountA, ...RANGE }, token)).data!.performanceReport;
      return p.generatedAt !== first.generatedAt ? p : undefined;
    }, 'the cached report to be invalidated');
    expect(fresh.trades.count).toBe(4);
    const applied = await h.admin.query(`SELECT 1 FROM ${schemaA}.applied_trades WHERE trade_id = $1`, [
      tradeId,
    ]);
    expect(applied.rowCount).toBe(1);

    // Closing the position records a round trip: (110 - 100) * 10 = +100.
    const closeId = randomUUID();
    await redis.xadd(stream, '*', ...tradeFields(closeId, 'SELL', '10', '110', '2024-01-11T13:00:00Z'));
    const closed = await eventually(async () => {
      const p = (await gql<Perf>(PERF, { id: accountA, ...RANGE }, token)).data!.performanceReport;
      return p.trades.count === 5 ? p : undefined;
    }, 'the round trip to show in the report');
    expect(closed.trades.totalPnl).toBe('170'); // 80 - 10 + 100
    // A redelivered entry changes nothing.
    const dupId = await redis.xadd(
      stream,
      '*',
      ...tradeFields(closeId, 'SELL', '10', '110', '2024-01-11T13:00:00Z'),
    );
    await eventually(async () => {
      const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
      const info = groups[0] ?? [];
      const field = (name: string): unknown => info[info.indexOf(name) + 1];
      return field('last-delivered-id') === dupId && field('pending') === 0 ? true : undefined;
    }, 'the duplicate to be consumed');
    const rows = await h.admin.query(`SELECT 1 FROM ${schemaA}.closed_trades WHERE trade_id = $1`, [closeId]);
    expect(rows.rowCount).toBe(1);

    // A malformed entry goes to the dead-letter stream; one of a tenant that does not exist is
    // acknowledged and ignored; neither is retried forever.
    const junkId = await redis.xadd(stream, '*', 'junk', '1');
    const unknown = tradeFields(randomUUID(), 'BUY', '1', '1', '2024-01-11T14:00:00Z');
    unknown[1] = randomUUID();
    const lastId = await redis.xadd(stream, '*', ...unknown);
    await eventually(async () => {
      const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
      const info = groups[0] ?? [];
      const field = (name: string): unknown => info[info.indexOf(name) + 1];
      return field('last-delivered-id') === lastId && field('pending') === 0 ? true : undefined;
    }, 'the bad entries to be acknowledged');
    const dead = (await redis.xrange(`${stream}:dead`, '-', '+')) as [string, string[]][];
    expect(dead.map(([, f]) => [f[1], f[3]])).toEqual([[junkId, 'malformed']]);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/analytics_trades_consumed_total\{[^}]*result="ignored"[^}]*\} 1/);
    expect(metrics).toMatch(/analytics_trade_stream_dead_letters_total\{[^}]*reason="malformed"[^}]*\} 1/);
    expect(metrics).toMatch(/analytics_cache_requests_total\{[^}]*result="hit"[^}]*\} [1-9]/);
    expect(metrics).toMatch(
      /analytics_report_duration_seconds_count\{[^}]*report="performance"[^}]*\} [1-9]/,
    );

    // A poison entry of tenant B (it parses, but its quantity overflows the lot's numeric column on
    // every delivery) and, behind it, a valid trade of tenant A: A's is applied without waiting, B's
    // is dead-lettered after ANALYTICS_TRADE_STREAM_MAX_DELIVERIES (2) deliveries, with no effect.
    const poisonTrade = randomUUID();
    const poison = tradeFields(poisonTrade, 'BUY', '1234567890123456789012345', '1', '2024-01-11T15:00:00Z');
    poison[1] = tenantB;
    poison[3] = accountB;
    const poisonId = await redis.xadd(stream, '*', ...poison);
    const validTrade = randomUUID();
    await redis.xadd(stream, '*', ...tradeFields(validTrade, 'BUY', '1', '10', '2024-01-11T15:00:00Z'));
    await eventually(async () => {
      const r = await h.admin.query(`SELECT 1 FROM ${schemaA}.applied_trades WHERE trade_id = $1`, [
        validTrade,
      ]);
      return r.rowCount === 1 ? true : undefined;
    }, "tenant A's trade behind the poison entry");
    const letter = await eventually(async () => {
      const entries = (await redis.xrange(`${stream}:dead`, '-', '+')) as [string, string[]][];
      const f = entries.find(([, fields]) => fields[1] === poisonId)?.[1];
      return f ? Object.fromEntries(f.flatMap((v, i) => (i % 2 === 0 ? [[v, f[i + 1]]] : []))) : undefined;
    }, 'the poison entry in the dead-letter stream');
    expect(letter).toMatchObject({ reason: 'max_deliveries', deliveries: '2' });
    expect(String(letter['error'])).toMatch(/overflow/);
    const poisonApplied = await h.admin.query(`SELECT 1 FROM ${schemaB}.applied_trades WHERE trade_id = $1`, [
      poisonTrade,
    ]);
    expect(poisonApplied.rowCount).toBe(0);
    const after = await (await fetch(`${url}/metrics`)).text();
    expect(after).toMatch(/analytics_trade_stream_dead_letters_total\{[^}]*reason="max_deliveries"[^}]*\} 1/);
  });
});

function tradeFields(
  tradeId: string,
  side: string,
  quantity: string,
  price: string,
  executedAt: string,
): string[] {
  return [
    'tenantId',
    tenantA,
    'accountId',
    accountA,
    'symbol',
    'AAPL',
    'side',
    side,
    'quantity',
    quantity,
    'price',
    price,
    'executedAt',
    executedAt,
    'orderId',
    randomUUID(),
    'tradeId',
    tradeId,
  ];
}

const RISK = `query($id: ID!) {
  riskReport(accountId: $id) {
    equity valueAtRisk95 expectedShortfall95 valueAtRisk99 varMethod observations
    grossExposure netExposure
    exposureBySymbol { key gross net share } exposureByAssetClass { key gross net share }
    concentration { largestSymbol largestShare herfindahl }
    rollingVolatility { at volatility }
  }
}`;

describe('riskReport', () => {
  it('values positions at the latest quotes and reports historical VaR', async () => {
    // Tenant B: 10 AAPL long (quote 150), 5 SPY short (no quote: last daily close 400).
    await h.admin.query(
      `INSERT INTO ${schemaB}.positions (account_id, symbol, quantity, average_price) VALUES ($1, 'AAPL', 10, 100), ($1, 'SPY', -5, 420)`,
      [accountB],
    );
    await redis.hset(
      `${h.config.REDIS_PREFIX}market:quotes`,
      'AAPL',
      JSON.stringify({ s: 'AAPL', p: '150' }),
    );
    await h.admin.query(
      `INSERT INTO market.bars_1d (symbol, bucket, open, high, low, close, volume, pv, trades, open_ts, close_ts)
       VALUES ('SPY', '2024-01-10T00:00:00Z', 400, 400, 400, 400, 1, 400, 1, '2024-01-10T10:00:00Z', '2024-01-10T20:00:00Z')`,
    );
    // Daily returns: -5 %, +2 %, -1 %.
    for (const [day, equity] of [
      ['2024-01-08', '100000'],
      ['2024-01-09', '95000'],
      ['2024-01-10', '96900'],
      ['2024-01-11', '95931'],
    ]) {
      await h.admin.query(
        `INSERT INTO ${schemaB}.equity_snapshots (account_id, kind, at, snapshot_day, equity, cash) VALUES ($1, 'daily', $2, $3, $4, $4)`,
        [accountB, `${day}T21:00:00Z`, day, equity],
      );
    }
    const r = await gql<{
      riskReport: {
        equity: string;
        valueAtRisk95: string;
        expectedShortfall95: string;
        valueAtRisk99: string;
        varMethod: string;
        observations: number;
        grossExposure: string;
        netExposure: string;
        exposureBySymbol: { key: string; gross: string; net: string; share: number }[];
        exposureByAssetClass: { key: string; gross: string; net: string; share: number }[];
        concentration: { largestSymbol: string; largestShare: number; herfindahl: number };
        rollingVolatility: { at: string; volatility: number }[];
      };
    }>(RISK, { id: accountB }, await sign(bob, tenantB));
    expect(r.errors).toBeUndefined();
    const k = r.data!.riskReport;
    // cash 100000 + 10 * 150 - 5 * 400
    expect(k.equity).toBe('99500');
    expect(k.grossExposure).toBe('3500');
    expect(k.netExposure).toBe('-500');
    expect(k.exposureBySymbol.map((l) => [l.key, l.gross, l.net])).toEqual([
      ['SPY', '2000', '-2000'],
      ['AAPL', '1500', '1500'],
    ]);
    expect(k.exposureByAssetClass.map((l) => l.key).sort()).toEqual(['EQUITY', 'ETF']);
    expect(k.concentration.largestSymbol).toBe('SPY');
    expect(k.concentration.largestShare).toBeCloseTo(2000 / 3500, 10);
    expect(k.concentration.herfindahl).toBeCloseTo((4 / 7) ** 2 + (3 / 7) ** 2, 10);
    // 3 returns: m = 1 at both levels -> the worst, -5 %, of 99,500
    expect(k.observations).toBe(3);
    expect(k.valueAtRisk95).toBe('4975.00');
    expect(k.expectedShortfall95).toBe('4975.00');
    expect(k.valueAtRisk99).toBe('4975.00');
    expect(k.varMethod).toMatch(/historical/);
    expect(k.rollingVolatility).toHaveLength(2);
  });
});

describe('snapshots', () => {
  it('backfills daily snapshots from the ledger, executions and daily closes, then snapshots now', async () => {
    // Tenant B's history (the ledger is append-only, and the seed's opening deposit is today, after
    // the backfilled days): 100,000 deposited on Mon 2024-01-15, a buy of 10 SPY at 100 on Tuesday.
    await h.admin.query(
      `INSERT INTO ${schemaB}.cash_ledger (account_id, kind, amount, created_at) VALUES ($1, 'deposit', 100000, '2024-01-15T10:00:00Z')`,
      [accountB],
    );
    const order = await h.admin.query<{ id: string }>(
      `INSERT INTO ${schemaB}.orders (account_id, client_order_id, symbol, side, type, time_in_force, quantity, status, filled_quantity)
       VALUES ($1, 'bf-1', 'SPY', 'BUY', 'MARKET', 'DAY', 10, 'FILLED', 10) RETURNING id`,
      [accountB],
    );
    await h.admin.query(
      `INSERT INTO ${schemaB}.executions (order_id, account_id, symbol, side, quantity, price, notional, executed_at)
       VALUES ($1, $2, 'SPY', 'BUY', 10, 100, 1000, '2024-01-16T15:00:00Z')`,
      [order.rows[0]?.id, accountB],
    );
    await h.admin.query(
      `INSERT INTO ${schemaB}.cash_ledger (account_id, kind, amount, created_at) VALUES ($1, 'trade', -1000, '2024-01-16T15:00:00Z')`,
      [accountB],
    );
    await h.admin.query(
      `INSERT INTO market.bars_1d (symbol, bucket, open, high, low, close, volume, pv, trades, open_ts, close_ts)
       VALUES ('SPY', '2024-01-17T00:00:00Z', 120, 120, 120, 120, 1, 120, 1, '2024-01-17T10:00:00Z', '2024-01-17T20:00:00Z')`,
    );
    // Keep the risk test's seeded rows out of the way: backfill runs only for accounts without daily rows.
    await h.admin.query(`DELETE FROM ${schemaB}.equity_snapshots WHERE account_id = $1`, [accountB]);

    await analytics.runtime().snapshots.runOnce();

    const rows = await h.admin.query<{ day: string; equity: string; flow: string }>(
      `SELECT to_char(snapshot_day, 'YYYY-MM-DD') AS day, equity::text AS equity, external_flow::text AS flow
         FROM ${schemaB}.equity_snapshots WHERE account_id = $1 AND kind = 'daily' ORDER BY snapshot_day LIMIT 5`,
      [accountB],
    );
    expect(rows.rows).toEqual([
      { day: '2024-01-15', equity: '100000.0000', flow: '0.0000' },
      // cash 99,000 + 10 SPY at the fill price (no bar that day)
      { day: '2024-01-16', equity: '100000.0000', flow: '0.0000' },
      // 10 SPY at the 120 close
      { day: '2024-01-17', equity: '100200.0000', flow: '0.0000' },
      { day: '2024-01-18', equity: '100200.0000', flow: '0.0000' },
      // Saturday and Sunday are skipped
      { day: '2024-01-19', equity: '100200.0000', flow: '0.0000' },
    ]);
    const intraday = await h.admin.query(
      `SELECT 1 FROM ${schemaB}.equity_snapshots WHERE account_id = $1 AND kind = 'intraday'`,
      [accountB],
    );
    expect(intraday.rowCount).toBe(1);
  });
});

const SAVE = `mutation($input: SaveDashboardInput!) {
  saveDashboard(input: $input) { id name version shared editable ownerUserId widgets { id kind config layout } }
}`;
const LIST = `{ dashboards { id name version shared editable } }`;
const DELETE = `mutation($id: ID!) { deleteDashboard(id: $id) }`;

interface Saved {
  saveDashboard: {
    id: string;
    name: string;
    version: number;
    shared: boolean;
    editable: boolean;
    ownerUserId: string;
    widgets: { id: string; kind: string; config: unknown; layout: unknown }[];
  };
}

describe('dashboards', () => {
  const widget = { kind: 'equity-curve', config: { accountId: 'x' }, layout: { x: 0, y: 0, w: 6, h: 4 } };

  it('creates, updates with the current version, and refuses a stale version with CONFLICT', async () => {
    const token = await sign(alice, tenantA);
    const created = await gql<Saved>(SAVE, { input: { name: 'Main', widgets: [widget] } }, token);
    expect(created.errors).toBeUndefined();
    const d = created.data!.saveDashboard;
    expect(d).toMatchObject({ name: 'Main', version: 1, shared: false, editable: true, ownerUserId: alice });
    expect(d.widgets[0]).toMatchObject(widget);

    const input = { id: d.id, version: 1, name: 'Main v2', widgets: [widget, widget] };
    const updated = await gql<Saved>(SAVE, { input }, token);
    expect(updated.data!.saveDashboard).toMatchObject({ version: 2, name: 'Main v2' });
    const stale = await gql<Saved>(SAVE, { input: { ...input, name: 'lost edit' } }, token);
    expect(code(stale)).toBe('CONFLICT');
    const list = await gql<{ dashboards: { name: string; version: number }[] }>(LIST, {}, token);
    expect(list.data!.dashboards).toEqual([expect.objectContaining({ name: 'Main v2', version: 2 })]);

    expect(code(await gql(SAVE, { input: { id: d.id, name: 'x', widgets: [] } }, token))).toBe(
      'BAD_USER_INPUT',
    );
    // A version that is given but wrong (0, negative, ahead) is a conflict, not a missing version.
    for (const version of [0, -1, 99]) {
      expect(code(await gql(SAVE, { input: { id: d.id, version, name: 'x', widgets: [] } }, token))).toBe(
        'CONFLICT',
      );
    }
    const badWidget = { name: 'x', widgets: [{ ...widget, config: [1, 2] }] };
    expect(code(await gql(SAVE, { input: badWidget }, token))).toBe('BAD_USER_INPUT');
    expect(code(await gql(SAVE, { input: { name: '  ', widgets: [] } }, token))).toBe('BAD_USER_INPUT');
  });

  it('concurrent saves from the same version: exactly one wins', async () => {
    const token = await sign(alice, tenantA);
    const d = (await gql<Saved>(SAVE, { input: { name: 'Race', widgets: [] } }, token)).data!.saveDashboard;
    const results = await Promise.all(
      ['a', 'b', 'c'].map((n) =>
        gql<Saved>(SAVE, { input: { id: d.id, version: 1, name: n, widgets: [] } }, token),
      ),
    );
    expect(results.filter((r) => r.data?.saveDashboard).length).toBe(1);
    expect(results.filter((r) => code(r) === 'CONFLICT').length).toBe(2);
  });

  it('belongs to its owner; shared ones are read-only for the rest of the tenant; other tenants see nothing', async () => {
    const aliceToken = await sign(alice, tenantA);
    const carolToken = await sign(carol, tenantA);
    const bobToken = await sign(bob, tenantB);
    const d = (await gql<Saved>(SAVE, { input: { name: 'Private', widgets: [] } }, aliceToken)).data!
      .saveDashboard;
    const names = async (token: string): Promise<string[]> =>
      (await gql<{ dashboards: { name: string }[] }>(LIST, {}, token)).data!.dashboards.map((x) => x.name);

    expect(await names(carolToken)).not.toContain('Private');
    expect(
      code(await gql(SAVE, { input: { id: d.id, version: 1, name: 'x', widgets: [] } }, carolToken)),
    ).toBe('NOT_FOUND');
    expect(
      (await gql<{ deleteDashboard: boolean }>(DELETE, { id: d.id }, carolToken)).data!.deleteDashboard,
    ).toBe(false);

    const shared = await gql<Saved>(
      SAVE,
      { input: { id: d.id, version: 1, name: 'Team', widgets: [], shared: true } },
      aliceToken,
    );
    expect(shared.data!.saveDashboard).toMatchObject({ shared: true, version: 2 });
    const seen = (await gql<{ dashboards: { id: string; editable: boolean }[] }>(LIST, {}, carolToken)).data!
      .dashboards;
    expect(seen).toContainEqual({ id: d.id, name: 'Team', version: 2, shared: true, editable: false });
    expect(
      code(await gql(SAVE, { input: { id: d.id, version: 2, name: 'mine', widgets: [] } }, carolToken)),
    ).toBe('FORBIDDEN');
    expect(code(await gql(DELETE, { id: d.id }, carolToken))).toBe('FORBIDDEN');

    // Tenant B: another schema altogether.
    expect(await names(bobToken)).toEqual([]);
    expect(code(await gql(SAVE, { input: { id: d.id, version: 2, name: 'x', widgets: [] } }, bobToken))).toBe(
      'NOT_FOUND',
    );
    expect(
      (await gql<{ deleteDashboard: boolean }>(DELETE, { id: d.id }, bobToken)).data!.deleteDashboard,
    ).toBe(false);

    expect(
      (await gql<{ deleteDashboard: boolean }>(DELETE, { id: d.id }, aliceToken)).data!.deleteDashboard,
    ).toBe(true);
    expect(await names(carolToken)).not.toContain('Team');
  });
});

describe("trading's read contract", () => {
  it('exposes the v1 views in every tenant schema and refuses writes through them', async () => {
    const views = await h.admin.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.views WHERE table_schema = $1 ORDER BY table_name`,
      [schemaA],
    );
    expect(views.rows.map((r) => r.table_name)).toEqual([
      'trading_accounts_v1',
      'trading_cash_ledger_v1',
      'trading_executions_v1',
      'trading_positions_v1',
    ]);
    const cash = await h.admin.query(`SELECT cash FROM ${schemaA}.trading_accounts_v1 WHERE id = $1`, [
      accountA,
    ]);
    expect(cash.rowCount).toBe(1);
    await expect(
      h.admin.query(`UPDATE ${schemaA}.trading_accounts_v1 SET cash = 0 WHERE id = $1`, [accountA]),
    ).rejects.toMatchObject({ code: '42501' });
  });
});
