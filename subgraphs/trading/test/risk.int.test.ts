/**
 * Every pre-trade check rejects with its machine-readable reason, and the rejection is stored: the
 * order is REJECTED with `rejectReason`, and its only event is REJECTED with the same reason. Also: the
 * trading states (HALTED, REDUCING), the daily loss limit and short selling with margin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TradingService } from '../src/service.js';
import {
  createClock,
  gql,
  ORDER_FIELDS,
  startTrading,
  tick,
  type Clock,
  type OrderView,
  type Tenant,
  type TradingTestEnv,
} from './support.js';

let env: TradingTestEnv;
let svc: TradingService;
let url: string;
let clock: Clock;
let n = 0;

beforeAll(async () => {
  clock = createClock(Date.parse('2030-03-04T15:00:00Z'));
  ({ env, svc, url } = await startTrading('trading_risk', {}, { now: () => clock.now() }));
  await feed('AAPL', '100.00', { bid: '99.99', ask: '100.01' });
  await feed('EURUSD', '1.08500', { bid: '1.08490', ask: '1.08510' });
});

afterAll(async () => {
  await svc?.stop();
  await env?.cleanup();
});

function feed(
  symbol: string,
  price: string,
  opts: { bid?: string; ask?: string; ts?: number } = {},
): Promise<void> {
  return svc.runtime().engine!.ingest(tick(symbol, price, { ts: clock.now(), ...opts }));
}

interface Ctx {
  t: Tenant;
  token: string;
}

async function fresh(): Promise<Ctx> {
  const t = await env.tenant();
  return { t, token: await env.token(t) };
}

async function place(
  c: Ctx,
  input: Record<string, unknown>,
): Promise<OrderView & { events: { type: string; reason: string | null; status: string }[] }> {
  const r = await gql<{ placeOrder: OrderView & { events: never[] } }>(
    url,
    `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { ${ORDER_FIELDS} events { type reason status } } }`,
    { input: { accountId: c.t.accountId, clientOrderId: `k-${++n}`, timeInForce: 'GTC', ...input } },
    c.token,
  );
  if (!r.data?.placeOrder) throw new Error(JSON.stringify(r.errors));
  return r.data.placeOrder;
}

async function limits(c: Ctx, input: Record<string, unknown>): Promise<void> {
  const r = await gql(
    url,
    `mutation($a: ID!, $input: RiskLimitsInput!) { updateRiskLimits(accountId: $a, input: $input) { allowShortSelling } }`,
    { a: c.t.accountId, input },
    c.token,
  );
  if (r.errors) throw new Error(JSON.stringify(r.errors));
}

async function setState(c: Ctx, state: string): Promise<void> {
  const r = await gql(
    url,
    `mutation($a: ID!, $s: TradingState!) { setTradingState(accountId: $a, state: $s, reason: "test") { tradingState } }`,
    { a: c.t.accountId, s: state },
    c.token,
  );
  if (r.errors) throw new Error(JSON.stringify(r.errors));
}

function expectRejected(o: Awaited<ReturnType<typeof place>>, reason: string): void {
  expect(o.status, JSON.stringify(o)).toBe('REJECTED');
  expect(o.rejectReason).toBe(reason);
  expect(o.rejectMessage).toBeTruthy();
  expect(o.events).toEqual([{ type: 'REJECTED', reason, status: 'REJECTED' }]);
}

const buyLimit = (quantity: string, limitPrice: string, symbol = 'AAPL') => ({
  symbol,
  side: 'BUY',
  type: 'LIMIT',
  quantity,
  limitPrice,
});

describe('each pre-trade check rejects with its reason', () => {
  let c: Ctx;
  beforeAll(async () => {
    c = await fresh();
  });

  it('UNKNOWN_INSTRUMENT, INSTRUMENT_NOT_TRADABLE, CURRENCY_MISMATCH', async () => {
    expectRejected(await place(c, buyLimit('1', '10', 'NOPE')), 'UNKNOWN_INSTRUMENT');
    expectRejected(await place(c, buyLimit('1', '10', 'OLDCO')), 'INSTRUMENT_NOT_TRADABLE');
    expectRejected(await place(c, buyLimit('1000', '150', 'USDJPY')), 'CURRENCY_MISMATCH');
  });

  it('INVALID_LOT_SIZE and INVALID_TICK_SIZE', async () => {
    expectRejected(await place(c, buyLimit('1500', '1.08', 'EURUSD')), 'INVALID_LOT_SIZE');
    expectRejected(await place(c, buyLimit('0.00015', '60000', 'BTCUSD')), 'INVALID_LOT_SIZE');
    expectRejected(await place(c, buyLimit('1', '99.995')), 'INVALID_TICK_SIZE');
    expectRejected(
      await place(c, { symbol: 'AAPL', side: 'BUY', type: 'STOP', quantity: '1', stopPrice: '101.001' }),
      'INVALID_TICK_SIZE',
    );
    expect((await place(c, buyLimit('2000', '1.08432', 'EURUSD'))).status).toBe('NEW');
  });

  it('NO_MARKET_DATA: a market order without a quote, or with a stale one', async () => {
    expectRejected(
      await place(c, { symbol: 'TSLA', side: 'BUY', type: 'MARKET', quantity: '1' }),
      'NO_MARKET_DATA',
    );
    await feed('MSFT', '400.00', { ts: clock.now() - 10 * 60_000 });
    expectRejected(
      await place(c, { symbol: 'MSFT', side: 'BUY', type: 'MARKET', quantity: '1' }),
      'NO_MARKET_DATA',
    );
  });

  it('PRICE_OUTSIDE_COLLAR: limit and stop prices within 20 % of the last price', async () => {
    expectRejected(await place(c, buyLimit('1', '79.99')), 'PRICE_OUTSIDE_COLLAR');
    expectRejected(
      await place(c, { symbol: 'AAPL', side: 'BUY', type: 'STOP', quantity: '1', stopPrice: '120.01' }),
      'PRICE_OUTSIDE_COLLAR',
    );
    expect((await place(c, buyLimit('1', '80'))).status).toBe('NEW');
  });

  it('MAX_NOTIONAL_EXCEEDED and INSUFFICIENT_BUYING_POWER', async () => {
    expectRejected(await place(c, buyLimit('10200', '99')), 'MAX_NOTIONAL_EXCEEDED');
    expectRejected(await place(c, buyLimit('1500', '99')), 'INSUFFICIENT_BUYING_POWER');
    expectRejected(
      await place(c, { symbol: 'AAPL', side: 'BUY', type: 'MARKET', quantity: '1000' }),
      'INSUFFICIENT_BUYING_POWER',
    );
  });

  it('SHORT_SELLING_NOT_ALLOWED: selling more than the position (net of open sells)', async () => {
    expectRejected(
      await place(c, { symbol: 'AAPL', side: 'SELL', type: 'MARKET', quantity: '1' }),
      'SHORT_SELLING_NOT_ALLOWED',
    );
    expect((await place(c, { symbol: 'AAPL', side: 'BUY', type: 'MARKET', quantity: '5' })).status).toBe(
      'FILLED',
    );
    expect(
      (await place(c, { symbol: 'AAPL', side: 'SELL', type: 'LIMIT', quantity: '3', limitPrice: '110' }))
        .status,
    ).toBe('NEW');
    expectRejected(
      await place(c, { symbol: 'AAPL', side: 'SELL', type: 'LIMIT', quantity: '3', limitPrice: '110' }),
      'SHORT_SELLING_NOT_ALLOWED',
    );
  });

  it('QUANTITY_BELOW_MINIMUM, QUANTITY_ABOVE_MAXIMUM, POSITION_LIMIT_EXCEEDED, EXPOSURE_LIMIT_EXCEEDED', async () => {
    const d = await fresh();
    await limits(d, {
      minOrderQuantity: '10',
      maxOrderQuantity: '100',
      maxPositionQuantity: '150',
      maxGrossExposure: '13900',
    });
    expectRejected(await place(d, buyLimit('5', '95')), 'QUANTITY_BELOW_MINIMUM');
    expectRejected(await place(d, buyLimit('101', '95')), 'QUANTITY_ABOVE_MAXIMUM');
    expect((await place(d, { symbol: 'AAPL', side: 'BUY', type: 'MARKET', quantity: '100' })).status).toBe(
      'FILLED',
    );
    expect((await place(d, buyLimit('40', '95'))).status).toBe('NEW');
    // 100 held + 40 open + 20 = 160 > 150
    expectRejected(await place(d, buyLimit('20', '95')), 'POSITION_LIMIT_EXCEEDED');
    // Exposure: 100 AAPL at 100 = 10000; 45 MSFT at 95 (4275) more crosses 13900.
    expectRejected(await place(d, buyLimit('45', '95', 'MSFT')), 'EXPOSURE_LIMIT_EXCEEDED');
  });

  it('ORDER_RATE_EXCEEDED: submissions per account per minute', async () => {
    const d = await fresh();
    await limits(d, { maxOrdersPerMinute: 3 });
    for (let i = 0; i < 3; i++) expect((await place(d, buyLimit('1', '95'))).status).toBe('NEW');
    expectRejected(await place(d, buyLimit('1', '95')), 'ORDER_RATE_EXCEEDED');
    clock.advance(60_000);
    expect((await place(d, buyLimit('1', '95'))).status).toBe('NEW');
  });
});

describe('trading states', () => {
  it('HALTED rejects every new order (TRADING_HALTED) but still cancels', async () => {
    const c = await fresh();
    const open = await place(c, buyLimit('1', '95'));
    await setState(c, 'HALTED');
    expectRejected(await place(c, buyLimit('1', '95')), 'TRADING_HALTED');
    const r = await gql<{ cancelOrder: { status: string } }>(
      url,
      `mutation($id: ID!) { cancelOrder(id: $id) { status } }`,
      { id: open.id },
      c.token,
    );
    expect(r.data?.cancelOrder.status).toBe('CANCELED');
  });

  it('REDUCING accepts only orders that reduce a position (REDUCE_ONLY)', async () => {
    const c = await fresh();
    expect((await place(c, { symbol: 'AAPL', side: 'BUY', type: 'MARKET', quantity: '10' })).status).toBe(
      'FILLED',
    );
    await setState(c, 'REDUCING');
    expectRejected(await place(c, buyLimit('1', '95')), 'REDUCE_ONLY');
    expectRejected(
      await place(c, { symbol: 'AAPL', side: 'SELL', type: 'LIMIT', quantity: '11', limitPrice: '101' }),
      'REDUCE_ONLY',
    );
    expect((await place(c, { symbol: 'AAPL', side: 'SELL', type: 'MARKET', quantity: '4' })).status).toBe(
      'FILLED',
    );
  });

  it('the daily loss limit moves the account to REDUCING', async () => {
    const c = await fresh();
    await limits(c, { dailyLossLimit: '150' });
    await feed('AAPL', '100.00', { bid: '99.99', ask: '100.01' });
    expect((await place(c, { symbol: 'AAPL', side: 'BUY', type: 'MARKET', quantity: '100' })).status).toBe(
      'FILLED',
    );
    await feed('AAPL', '98.00', { bid: '97.99', ask: '98.01' });
    expectRejected(await place(c, buyLimit('1', '95')), 'REDUCE_ONLY');
    const a = await gql<{ account: { tradingState: string; tradingStateReason: string } }>(
      url,
      `query($a: ID!) { account(id: $a) { tradingState tradingStateReason } }`,
      { a: c.t.accountId },
      c.token,
    );
    expect(a.data?.account).toEqual({ tradingState: 'REDUCING', tradingStateReason: 'DAILY_LOSS_LIMIT' });
    expect((await place(c, { symbol: 'AAPL', side: 'SELL', type: 'MARKET', quantity: '100' })).status).toBe(
      'FILLED',
    );
    await feed('AAPL', '100.00', { bid: '99.99', ask: '100.01' });
  });
});

describe('short selling', () => {
  it('when allowed, a short sale credits the proceeds and holds margin out of the buying power', async () => {
    const c = await fresh();
    await limits(c, { allowShortSelling: true });
    await feed('AAPL', '100.00', { bid: '99.99', ask: '100.01' });
    const o = await place(c, { symbol: 'AAPL', side: 'SELL', type: 'MARKET', quantity: '10' });
    expect(o).toMatchObject({ status: 'FILLED', averageFillPrice: '99.99' });
    const a = await gql<{
      account: { cash: string; buyingPower: string; positions: { quantity: string }[] };
    }>(
      url,
      `query($a: ID!) { account(id: $a) { cash buyingPower positions { quantity } } }`,
      { a: c.t.accountId },
      c.token,
    );
    // cash 100000 + 999.90; margin 10 * 99.99 * 1.5 = 1499.85
    expect(a.data?.account).toEqual({
      cash: '100999.9',
      buyingPower: '99500.05',
      positions: [{ quantity: '-10' }],
    });
    const cover = await place(c, { symbol: 'AAPL', side: 'BUY', type: 'MARKET', quantity: '10' });
    expect(cover.status).toBe('FILLED');
  });
});
