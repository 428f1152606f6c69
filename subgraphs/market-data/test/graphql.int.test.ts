import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../../lib/redis.js';
import { Dec, vwapOf } from '../src/decimal.js';
import type { MarketDataService } from '../src/service.js';
import { encodeTick, type Tick } from '../../../contracts/market-tick.js';
import { createMarketTestEnv, gql, type MarketTestEnv } from './helpers.js';

let env: MarketTestEnv;
let svc: MarketDataService;
let url: string;
let token: string;

// Ten hours of AAPL minute trades from 2024-04-01 00:00Z: one trade per 10 s with a deterministic walk.
const START = Date.UTC(2024, 3, 1);
const ticks: Tick[] = [];

beforeAll(async () => {
  env = await createMarketTestEnv('md_graphql', { MARKET_FEED_ENABLED: 'false' });
  svc = env.service();
  ({ url } = await svc.start());
  token = await env.token();
  let price = new Dec('190.00');
  for (let i = 0; i < 10 * 360; i++) {
    price = price.plus(new Dec(((i * 7919) % 21) - 10).times('0.01'));
    const p = price.toFixed(2);
    ticks.push({
      symbol: 'AAPL',
      price: p,
      bid: p,
      ask: p,
      size: String(1 + (i % 7)),
      ts: START + i * 10_000,
      seq: i,
      producer: 't',
    });
  }
  await svc.runtime().writer.writeBatch(ticks);
  // The latest quote, as the feed would have left it in Redis.
  const redis = createRedis(env.config, 'commands', `${env.config.REDIS_PREFIX}market:`);
  await redis.hset(
    'quotes',
    'AAPL',
    encodeTick({ ...ticks[ticks.length - 1]!, bid: '201.10', ask: '201.12' }),
  );
  redis.disconnect();
});

afterAll(async () => {
  await svc?.stop();
  await env?.cleanup();
});

type Err = { extensions?: { code?: string } };
const codes = (errors: Err[] | undefined): (string | undefined)[] =>
  (errors ?? []).map((e) => e.extensions?.code);

describe('market-data GraphQL', () => {
  it('requires an authenticated caller', async () => {
    const r = await gql(url, '{ instruments { symbol } }');
    expect(codes(r.errors)).toEqual(['UNAUTHENTICATED']);
    const forged = await gql(url, '{ instruments { symbol } }', {}, `${token.slice(0, -4)}AAAA`);
    expect(codes(forged.errors)).toEqual(['UNAUTHENTICATED']);
  });

  it('lists the seeded catalog and resolves one instrument with its quote', async () => {
    const r = await gql<{
      instruments: {
        symbol: string;
        assetClass: string;
        tickSize: string;
        lotSize: string;
        tradable: boolean;
      }[];
    }>(url, '{ instruments { symbol assetClass tickSize lotSize tradable } }', {}, token);
    expect(r.errors).toBeUndefined();
    const list = r.data!.instruments;
    expect(list.length).toBeGreaterThanOrEqual(20);
    expect(new Set(list.map((i) => i.assetClass))).toEqual(new Set(['EQUITY', 'ETF', 'FX', 'CRYPTO']));
    expect(list.find((i) => i.symbol === 'EURUSD')).toMatchObject({ tickSize: '0.00001', lotSize: '1000' });

    const one = await gql<{
      instrument: { name: string; quote: { bid: string; ask: string; last: string; timestamp: string } };
    }>(url, '{ instrument(symbol: "AAPL") { name quote { symbol bid ask last timestamp } } }', {}, token);
    expect(one.errors).toBeUndefined();
    expect(one.data!.instrument.name).toBe('Apple Inc.');
    expect(one.data!.instrument.quote).toMatchObject({
      bid: '201.10',
      ask: '201.12',
      last: ticks[ticks.length - 1]!.price,
    });
    expect(one.data!.instrument.quote.timestamp).toBe(new Date(ticks[ticks.length - 1]!.ts).toISOString());

    const none = await gql<{ instrument: unknown; msft: { quote: unknown } }>(
      url,
      '{ instrument(symbol: "NOPE") { symbol } msft: instrument(symbol: "MSFT") { quote { bid } } }',
      {},
      token,
    );
    expect(none.errors).toBeUndefined();
    expect(none.data!.instrument).toBeNull();
    expect(none.data!.msft.quote).toBeNull();
  });

  it('returns candles per interval with exact volume and VWAP', async () => {
    const r = await gql<{
      h1: { start: string; open: string; close: string; volume: string; vwap: string; trades: number }[];
      m5: unknown[];
      latest: { start: string }[];
    }>(
      url,
      `query($from: DateTime, $to: DateTime) {
        h1: candles(symbol: "AAPL", interval: H1, from: $from, to: $to) { start open high low close volume vwap trades }
        m5: candles(symbol: "AAPL", interval: M5, from: $from, to: $to, limit: 5000) { start }
        latest: candles(symbol: "AAPL", interval: M1, limit: 3) { start }
      }`,
      { from: new Date(START).toISOString(), to: new Date(START + 10 * 3_600_000).toISOString() },
      token,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.h1).toHaveLength(10);
    expect(r.data!.m5).toHaveLength(120);
    const first = r.data!.h1[0]!;
    const hour = ticks.filter((t) => t.ts < START + 3_600_000);
    const volume = hour.reduce((a, t) => a.plus(t.size), new Dec(0));
    const pv = hour.reduce((a, t) => a.plus(new Dec(t.price).times(t.size)), new Dec(0));
    expect(first.start).toBe(new Date(START).toISOString());
    expect(first.open).toBe(hour[0]!.price);
    expect(first.close).toBe(hour[hour.length - 1]!.price);
    expect(first.volume).toBe(volume.toFixed());
    expect(first.vwap).toBe(vwapOf(pv, volume));
    expect(first.trades).toBe(360);
    // Without `from`: the most recent candles, oldest first.
    const latest = r.data!.latest.map((c) => Date.parse(c.start));
    expect(latest).toEqual([START + 597 * 60_000, START + 598 * 60_000, START + 599 * 60_000]);
  });

  it('paginates candles with a cursor', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const r: {
        data?: {
          candlePage: { candles: { start: string }[]; endCursor: string | null; hasNextPage: boolean };
        };
      } = await gql(
        url,
        `query($after: String) { candlePage(symbol: "AAPL", interval: M5, first: 50, after: $after) { candles { start } endCursor hasNextPage } }`,
        { after },
        token,
      );
      const p = r.data!.candlePage;
      seen.push(...p.candles.map((c) => c.start));
      after = p.endCursor;
      if (!p.hasNextPage) break;
    }
    expect(seen).toHaveLength(120);
    expect(new Set(seen).size).toBe(120);
    expect([...seen].sort()).toEqual(seen);
  });

  it('computes indicators over candles', async () => {
    const r = await gql<{
      indicators: {
        sma: { time: string; value: string }[];
        ema: { value: string }[];
        rsi: { value: string }[];
        macd: { macd: string; signal: string; histogram: string }[];
        bollinger: { upper: string; middle: string; lower: string }[];
        atr: { value: string }[];
        vwap: { value: string }[];
        volatility: { value: string }[];
      };
    }>(
      url,
      `query($from: DateTime) { indicators(symbol: "AAPL", interval: H1, from: $from) {
        sma(period: 3) { time value } ema(period: 3) { value } rsi(period: 3) { value }
        macd(fast: 2, slow: 4, signal: 2) { macd signal histogram }
        bollinger(period: 3) { upper middle lower } atr(period: 3) { value } vwap { value } volatility(period: 3) { value }
      } }`,
      { from: new Date(START).toISOString() },
      token,
    );
    expect(r.errors).toBeUndefined();
    const ind = r.data!.indicators;
    const closes = await gql<{ candles: { close: string; volume: string; vwap: string }[] }>(
      url,
      `query($from: DateTime) { candles(symbol: "AAPL", interval: H1, from: $from) { close volume vwap } }`,
      { from: new Date(START).toISOString() },
      token,
    );
    const c = closes.data!.candles.map((x) => Number(x.close));
    // SMA(3) from the third candle on, equal to the plain mean.
    expect(ind.sma).toHaveLength(8);
    expect(Number(ind.sma[0]!.value)).toBeCloseTo((c[0]! + c[1]! + c[2]!) / 3, 6);
    expect(ind.ema.length).toBeGreaterThan(0);
    for (const p of ind.rsi) expect(Number(p.value)).toBeGreaterThanOrEqual(0);
    for (const p of ind.rsi) expect(Number(p.value)).toBeLessThanOrEqual(100);
    for (const b of ind.bollinger) expect(Number(b.upper)).toBeGreaterThanOrEqual(Number(b.lower));
    expect(ind.macd.length).toBeGreaterThan(0);
    expect(ind.atr.length).toBeGreaterThan(0);
    // Cumulative VWAP over all ten hours equals the direct computation from the ticks.
    const volume = ticks.reduce((a, t) => a.plus(t.size), new Dec(0));
    const pv = ticks.reduce((a, t) => a.plus(new Dec(t.price).times(t.size)), new Dec(0));
    expect(ind.vwap).toHaveLength(10);
    expect(ind.vwap[9]!.value).toBe(vwapOf(pv, volume));
    expect(ind.vwap[0]!.value).toBe(closes.data!.candles[0]!.vwap);
    expect(ind.volatility).toHaveLength(7);
  });

  it('summarizes the market', async () => {
    const r = await gql<{
      marketSummary: {
        gainers: { symbol: string }[];
        mostActive: { symbol: string; instrument: { name: string } }[];
        mostVolatile: unknown[];
      };
    }>(
      url,
      '{ marketSummary(limit: 3) { asOf gainers { symbol changePercent } losers { symbol } mostActive { symbol notional instrument { name } } mostVolatile { symbol volatility samples } } }',
      {},
      token,
    );
    expect(r.errors).toBeUndefined();
    // The seeded ticks are in 2024, outside the rolling 24 hours: an empty but well-formed summary.
    expect(r.data!.marketSummary.mostActive).toEqual([]);
  });

  it('rejects bad input with BAD_USER_INPUT', async () => {
    const cases: [string, Record<string, unknown>][] = [
      ['{ candles(symbol: "NOPE", interval: M1) { start } }', {}],
      [
        'query($from: DateTime, $to: DateTime) { candles(symbol: "AAPL", interval: M1, from: $from, to: $to) { start } }',
        { from: '2024-04-02T00:00:00Z', to: '2024-04-01T00:00:00Z' },
      ],
      ['{ candles(symbol: "AAPL", interval: M1, limit: 1000000) { start } }', {}],
      ['{ candles(symbol: "AAPL", interval: M1, limit: 0) { start } }', {}],
      // A malformed DateTime in a variable (a literal one fails validation instead).
      [
        'query($from: DateTime) { candles(symbol: "AAPL", interval: M1, from: $from) { start } }',
        { from: 'yesterday' },
      ],
      ['{ candlePage(symbol: "AAPL", interval: M1, after: "bogus") { hasNextPage } }', {}],
      ['{ candlePage(symbol: "AAPL", interval: M1, first: 5001) { hasNextPage } }', {}],
      ['{ indicators(symbol: "AAPL", interval: H1) { sma(period: 100000) { value } } }', {}],
      ['{ indicators(symbol: "AAPL", interval: H1) { macd(fast: 30, slow: 10) { macd } } }', {}],
      ['{ marketSummary(limit: 500) { asOf } }', {}],
      ['{ marketSummary(assetClass: "BONDS") { asOf } }', {}],
    ];
    for (const [query, variables] of cases) {
      const r = await gql(url, query, variables, token);
      expect(codes(r.errors), query).toEqual(['BAD_USER_INPUT']);
    }
  });
});
