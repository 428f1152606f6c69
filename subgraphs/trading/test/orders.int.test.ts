/**
 * Order types and times in force against scripted price sequences (ticks fed straight into the engine,
 * no randomness), with real Postgres and Redis: market fills with slippage, resting limits, stops and
 * stop-limits, IOC / FOK with capped liquidity, partial fills, DAY expiry, idempotent clientOrderId,
 * cancel, cancel-all, replace, preview, positions and P&L, cash movements and roles.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../../../lib/db.js';
import type { TradingService } from '../src/service.js';
import {
  createClock,
  gql,
  ORDER_FIELDS,
  PLACE,
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
let t: Tenant;
let token: string;
let n = 0;

beforeAll(async () => {
  // Slippage 10 bps on market fills; each order may take at most 1x the tick's size per tick.
  clock = createClock(Date.parse('2030-03-04T15:00:00Z'));
  ({ env, svc, url } = await startTrading(
    'trading_orders',
    { TRADING_SLIPPAGE_BPS: '10', TRADING_LIQUIDITY_FACTOR: '1' },
    { now: () => clock.now() },
  ));
  t = await env.tenant();
  token = await env.token(t);
});

afterAll(async () => {
  await svc?.stop();
  await env?.cleanup();
});

const feed = (symbol: string, price: string, opts: { bid?: string; ask?: string; size?: string } = {}) =>
  svc.runtime().engine!.ingest(tick(symbol, price, { ...opts, ts: clock.now() }));

async function place(input: Record<string, unknown>, bearer = token): Promise<OrderView> {
  const r = await gql<{ placeOrder: OrderView }>(
    url,
    PLACE,
    { input: { accountId: t.accountId, clientOrderId: `c-${++n}`, timeInForce: 'GTC', ...input } },
    bearer,
  );
  if (!r.data?.placeOrder) throw new Error(JSON.stringify(r.errors));
  return r.data.placeOrder;
}

async function order(id: string): Promise<
  OrderView & {
    events: {
      type: string;
      status: string;
      reason: string | null;
      quantity: string | null;
      price: string | null;
    }[];
  }
> {
  const r = await gql<{ order: OrderView & { events: never[] } }>(
    url,
    `query($id: ID!) { order(id: $id) { ${ORDER_FIELDS} events { type status reason quantity price } } }`,
    { id },
    token,
  );
  if (!r.data?.order) throw new Error(JSON.stringify(r.errors));
  return r.data.order;
}

interface AccountView {
  cash: string;
  reservedCash: string;
  buyingPower: string;
  equity: string;
  realizedPnl: string;
  unrealizedPnl: string;
  positions: {
    symbol: string;
    quantity: string;
    averagePrice: string;
    realizedPnl: string;
    unrealizedPnl: string | null;
    lastPrice: string | null;
  }[];
}

async function account(): Promise<AccountView> {
  const r = await gql<{ account: AccountView }>(
    url,
    `query($id: ID!) { account(id: $id) { cash reservedCash buyingPower equity realizedPnl unrealizedPnl
      positions { symbol quantity averagePrice realizedPnl unrealizedPnl lastPrice } } }`,
    { id: t.accountId },
    token,
  );
  if (!r.data?.account) throw new Error(JSON.stringify(r.errors));
  return r.data.account;
}

describe('market orders', () => {
  it('buy at the ask and sell at the bid, moved by the slippage and rounded to the tick against the taker', async () => {
    await feed('AAPL', '100.00', { bid: '99.99', ask: '100.01' });
    const buy = await place({ symbol: 'AAPL', side: 'BUY', type: 'MARKET', quantity: '10' });
    // 100.01 * 1.001 = 100.11001 -> 100.12
    expect(buy).toMatchObject({ status: 'FILLED', filledQuantity: '10', averageFillPrice: '100.12' });
    const sell = await place({ symbol: 'AAPL', side: 'SELL', type: 'MARKET', quantity: '4' });
    // 99.99 * 0.999 = 99.89001 -> 99.89
    expect(sell).toMatchObject({ status: 'FILLED', averageFillPrice: '99.89' });
    const a = await account();
    const pos = a.positions.find((p) => p.symbol === 'AAPL');
    expect(pos).toMatchObject({
      quantity: '6',
      averagePrice: '100.12',
      realizedPnl: '-0.92',
      lastPrice: '100',
    });
    // cash = 100000 - 10 * 100.12 + 4 * 99.89
    expect(a.cash).toBe('99398.36');
    expect(a.unrealizedPnl).toBe('-0.72');
    expect(a.equity).toBe('99998.36');
    const events = (await order(buy.id)).events;
    expect(events.map((e) => e.type)).toEqual(['ACCEPTED', 'FILLED']);
    expect(events[1]).toMatchObject({ quantity: '10', price: '100.12', status: 'FILLED' });
  });

  it('take at most the liquidity of a tick; a DAY/GTC remainder rests and fills on the next ticks', async () => {
    await feed('MSFT', '200.00', { bid: '199.99', ask: '200.01', size: '100' });
    const o = await place({ symbol: 'MSFT', side: 'BUY', type: 'MARKET', quantity: '150' });
    expect(o).toMatchObject({ status: 'PARTIALLY_FILLED', filledQuantity: '100', remainingQuantity: '50' });
    await feed('MSFT', '200.10', { bid: '200.09', ask: '200.11', size: '100' });
    const done = await order(o.id);
    expect(done).toMatchObject({ status: 'FILLED', filledQuantity: '150' });
    expect(done.events.map((e) => e.type)).toEqual(['ACCEPTED', 'PARTIALLY_FILLED', 'FILLED']);
  });
});

describe('limit orders', () => {
  it('rest until the touch crosses, then fill at the touch (never beyond the limit)', async () => {
    await feed('TSLA', '250.00', { bid: '249.99', ask: '250.01' });
    const buy = await place({
      symbol: 'TSLA',
      side: 'BUY',
      type: 'LIMIT',
      quantity: '5',
      limitPrice: '249.50',
    });
    expect(buy.status).toBe('NEW');
    let a = await account();
    expect(a.reservedCash).toBe('1247.5');
    await feed('TSLA', '249.80', { bid: '249.79', ask: '249.81' });
    expect((await order(buy.id)).status).toBe('NEW');
    await feed('TSLA', '249.40', { bid: '249.39', ask: '249.45' });
    const filled = await order(buy.id);
    expect(filled).toMatchObject({ status: 'FILLED', averageFillPrice: '249.45' });
    a = await account();
    expect(a.reservedCash).toBe('0');

    const sell = await place({
      symbol: 'TSLA',
      side: 'SELL',
      type: 'LIMIT',
      quantity: '5',
      limitPrice: '251',
    });
    await feed('TSLA', '250.99', { bid: '250.98', ask: '251.00' });
    expect((await order(sell.id)).status).toBe('NEW');
    await feed('TSLA', '251.30', { bid: '251.20', ask: '251.40' });
    expect(await order(sell.id)).toMatchObject({ status: 'FILLED', averageFillPrice: '251.2' });
  });

  it('fills a marketable limit order on arrival at the touch', async () => {
    await feed('TSLA', '250.00', { bid: '249.99', ask: '250.01' });
    const o = await place({ symbol: 'TSLA', side: 'BUY', type: 'LIMIT', quantity: '1', limitPrice: '252' });
    expect(o).toMatchObject({ status: 'FILLED', averageFillPrice: '250.01' });
  });

  it('fill partially over several ticks and never twice from the same tick', async () => {
    await feed('AAPL', '101.00', { bid: '100.99', ask: '101.01' });
    const o = await place({
      symbol: 'AAPL',
      side: 'BUY',
      type: 'LIMIT',
      quantity: '250',
      limitPrice: '100.50',
    });
    const crossing = tick('AAPL', '100.40', { bid: '100.39', ask: '100.41', size: '100', ts: clock.now() });
    await svc.runtime().engine!.ingest(crossing);
    expect(await order(o.id)).toMatchObject({ status: 'PARTIALLY_FILLED', filledQuantity: '100' });
    // The same tick again (a redelivery) changes nothing.
    await svc.runtime().engine!.ingest(crossing);
    expect((await order(o.id)).filledQuantity).toBe('100');
    await feed('AAPL', '100.40', { bid: '100.39', ask: '100.42', size: '100' });
    await feed('AAPL', '100.40', { bid: '100.39', ask: '100.43', size: '100' });
    const done = await order(o.id);
    expect(done).toMatchObject({ status: 'FILLED', filledQuantity: '250' });
    // 100 @ 100.41, 100 @ 100.42, 50 @ 100.43
    expect(done.averageFillPrice).toBe('100.418');
    expect(done.events.map((e) => e.type)).toEqual([
      'ACCEPTED',
      'PARTIALLY_FILLED',
      'PARTIALLY_FILLED',
      'FILLED',
    ]);
  });
});

describe('stop orders', () => {
  it('a buy stop triggers when the last price reaches the stop and fills as a market order', async () => {
    await feed('MSFT', '200.00', { bid: '199.99', ask: '200.01' });
    const o = await place({ symbol: 'MSFT', side: 'BUY', type: 'STOP', quantity: '2', stopPrice: '202' });
    await feed('MSFT', '201.99', { bid: '201.98', ask: '202.00' });
    expect(await order(o.id)).toMatchObject({ status: 'NEW', triggered: false });
    await feed('MSFT', '202.00', { bid: '201.99', ask: '202.01' });
    const done = await order(o.id);
    // 202.01 * 1.001 = 202.21201 -> 202.22
    expect(done).toMatchObject({ status: 'FILLED', triggered: true, averageFillPrice: '202.22' });
    expect(done.events.map((e) => e.type)).toEqual(['ACCEPTED', 'TRIGGERED', 'FILLED']);
  });

  it('a sell stop-limit triggers, rests as a limit order, and fills when the bid reaches the limit', async () => {
    await feed('MSFT', '200.00', { bid: '199.99', ask: '200.01' });
    const o = await place({
      symbol: 'MSFT',
      side: 'SELL',
      type: 'STOP_LIMIT',
      quantity: '2',
      stopPrice: '198',
      limitPrice: '197.50',
    });
    await feed('MSFT', '197.00', { bid: '196.99', ask: '197.01' });
    expect(await order(o.id)).toMatchObject({ status: 'NEW', triggered: true });
    await feed('MSFT', '197.60', { bid: '197.55', ask: '197.65' });
    const done = await order(o.id);
    expect(done).toMatchObject({ status: 'FILLED', averageFillPrice: '197.55' });
    expect(done.events.map((e) => e.type)).toEqual(['ACCEPTED', 'TRIGGERED', 'FILLED']);
  });
});

describe('immediate-or-cancel and fill-or-kill', () => {
  it('IOC fills what the tick offers and cancels the rest', async () => {
    await feed('AAPL', '100.00', { bid: '99.99', ask: '100.01', size: '100' });
    const o = await place({
      symbol: 'AAPL',
      side: 'BUY',
      type: 'LIMIT',
      quantity: '150',
      limitPrice: '100.05',
      timeInForce: 'IOC',
    });
    expect(o).toMatchObject({ status: 'CANCELED', filledQuantity: '100' });
    const events = (await order(o.id)).events;
    expect(events.map((e) => [e.type, e.reason])).toEqual([
      ['ACCEPTED', null],
      ['PARTIALLY_FILLED', null],
      ['CANCELED', 'IOC_REMAINDER'],
    ]);
  });

  it('IOC that does not cross cancels without filling', async () => {
    const o = await place({
      symbol: 'AAPL',
      side: 'BUY',
      type: 'LIMIT',
      quantity: '1',
      limitPrice: '99',
      timeInForce: 'IOC',
    });
    expect(o).toMatchObject({ status: 'CANCELED', filledQuantity: '0' });
  });

  it('FOK fills completely or not at all', async () => {
    await feed('AAPL', '100.00', { bid: '99.99', ask: '100.01', size: '100' });
    const killed = await place({
      symbol: 'AAPL',
      side: 'BUY',
      type: 'MARKET',
      quantity: '150',
      timeInForce: 'FOK',
    });
    expect(killed).toMatchObject({ status: 'CANCELED', filledQuantity: '0' });
    expect((await order(killed.id)).events.at(-1)).toMatchObject({
      type: 'CANCELED',
      reason: 'FOK_NOT_FILLABLE',
    });
    const filled = await place({
      symbol: 'AAPL',
      side: 'BUY',
      type: 'MARKET',
      quantity: '80',
      timeInForce: 'FOK',
    });
    expect(filled).toMatchObject({ status: 'FILLED', filledQuantity: '80' });
  });
});

/** A GTC buy of TSLA below the market (it rests). */
const RESTING_TSLA = {
  symbol: 'TSLA',
  side: 'BUY',
  type: 'LIMIT',
  quantity: '1',
  limitPrice: '240',
  timeInForce: 'GTC',
};

describe('DAY orders', () => {
  it('expire at the end of the trading day; GTC orders stay', async () => {
    await feed('TSLA', '250.00', { bid: '249.99', ask: '250.01' });
    const day = await place({ ...RESTING_TSLA, timeInForce: 'DAY' });
    const gtc = await place(RESTING_TSLA);
    expect(day.expiresAt).toBe('2030-03-04T20:00:00.000Z');
    expect(gtc.expiresAt).toBeNull();
    await svc.runtime().engine!.expireDue();
    expect((await order(day.id)).status).toBe('NEW');
    clock.set(Date.parse('2030-03-04T20:00:01Z'));
    await svc.runtime().engine!.expireDue();
    const expired = await order(day.id);
    expect(expired.status).toBe('EXPIRED');
    expect(expired.events.at(-1)).toMatchObject({ type: 'EXPIRED', reason: 'DAY_ORDER_EXPIRED' });
    expect((await order(gtc.id)).status).toBe('NEW');
    clock.set(Date.parse('2030-03-04T15:00:00Z'));
  });
});

describe('clientOrderId', () => {
  it('a retried submit returns the same order; other parameters are a CONFLICT', async () => {
    const input = { accountId: t.accountId, clientOrderId: 'retry-me', ...RESTING_TSLA };
    const a = await gql<{ placeOrder: OrderView }>(url, PLACE, { input }, token);
    const b = await gql<{ placeOrder: OrderView }>(url, PLACE, { input }, token);
    expect(b.data?.placeOrder.id).toBe(a.data?.placeOrder.id);
    const c = await gql(url, PLACE, { input: { ...input, quantity: '2' } }, token);
    expect(c.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('submissions that share a transaction each get their own answer', async () => {
    // Sent together, they queue behind one another on the account and are placed in shared
    // transactions (group commit): a reused clientOrderId with other parameters fails alone, a
    // repeated one returns the order placed in the same transaction, the rest are placed.
    const input = (clientOrderId: string, quantity = '1') => ({
      accountId: t.accountId,
      clientOrderId,
      symbol: 'TSLA',
      side: 'BUY',
      type: 'LIMIT',
      quantity,
      limitPrice: '230',
      timeInForce: 'GTC',
    });
    const sent = [
      ...Array.from({ length: 8 }, (_, i) => input(`together-${i}`)),
      input('retry-me', '3'),
      input('together-3'),
      input('together-5', '2'),
    ];
    const batches = async () => (await svc.runtime().metrics.placementBatch.get()).values;
    const count = (v: Awaited<ReturnType<typeof batches>>) =>
      v.find((x) => x.metricName === 'trading_placement_batch_orders_count')?.value ?? 0;
    const before = count(await batches());
    const answers = await Promise.all(
      sent.map((i) => gql<{ placeOrder: OrderView }>(url, PLACE, { input: i }, token)),
    );
    // Fewer transactions than submissions: some were placed together.
    expect(count(await batches()) - before).toBeLessThan(sent.length);
    for (let i = 0; i < 8; i++) {
      expect(answers[i]?.errors).toBeUndefined();
      expect(answers[i]?.data?.placeOrder.status).toBe('NEW');
    }
    expect(answers[8]?.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(answers[9]?.data?.placeOrder.id).toBe(answers[3]?.data?.placeOrder.id);
    // together-5 is either placed by its first submission already (CONFLICT) or placed by this one,
    // and then the first submission is the CONFLICT: one order, with one of the two quantities.
    const fives = [answers[5], answers[10]];
    expect(fives.filter((a) => a?.errors?.[0]?.extensions?.code === 'CONFLICT')).toHaveLength(1);
    const placed = await env.admin.query<{ client_order_id: string; n: number }>(
      `SELECT client_order_id, count(*)::int AS n FROM "${t.schemaName}".orders
        WHERE client_order_id LIKE 'together-%' GROUP BY client_order_id ORDER BY 1`,
    );
    expect(placed.rows).toEqual(
      Array.from({ length: 8 }, (_, i) => ({ client_order_id: `together-${i}`, n: 1 })),
    );
  });

  it('with one placement transaction at a time, every account still gets each of its orders placed once', async () => {
    // A second replica (no engine) limited to one placement transaction at a time: three accounts'
    // orders sent together wait for their turn in order and go in their account's next batch.
    const one = env.service(
      { now: () => clock.now() },
      { TRADING_PLACEMENT_CONCURRENCY: 1, TRADING_ENGINE_ENABLED: false },
    );
    const { url: oneUrl } = await one.start();
    try {
      const tenants = await Promise.all([env.tenant(), env.tenant(), env.tenant()]);
      const tokens = await Promise.all(tenants.map((x) => env.token(x)));
      const sent = tenants.flatMap((x, k) =>
        Array.from({ length: 5 }, (_, i) => ({
          k,
          input: {
            accountId: x.accountId,
            clientOrderId: `turn-${i}`,
            symbol: 'TSLA',
            side: 'BUY',
            type: 'LIMIT',
            quantity: String(i + 1),
            limitPrice: '230',
            timeInForce: 'GTC',
          },
        })),
      );
      const answers = await Promise.all(
        sent.map((s) => gql<{ placeOrder: OrderView }>(oneUrl, PLACE, { input: s.input }, tokens[s.k] ?? '')),
      );
      answers.forEach((a, i) => {
        expect(a.errors).toBeUndefined();
        expect(a.data?.placeOrder).toMatchObject({
          status: 'NEW',
          clientOrderId: sent[i]?.input.clientOrderId,
          quantity: sent[i]?.input.quantity,
        });
      });
      for (const x of tenants) {
        const rows = await env.admin.query<{ client_order_id: string; quantity: string }>(
          `SELECT client_order_id, trim_scale(quantity)::text AS quantity FROM "${x.schemaName}".orders ORDER BY client_order_id`,
        );
        expect(rows.rows).toEqual(
          Array.from({ length: 5 }, (_, i) => ({ client_order_id: `turn-${i}`, quantity: String(i + 1) })),
        );
      }
      const m = (await one.runtime().metrics.placementBatch.get()).values;
      const sum = m.find((v) => v.metricName === 'trading_placement_batch_orders_sum')?.value;
      expect(sum).toBe(sent.length);
    } finally {
      await one.stop();
    }
  });
});

describe('cancel, cancel-all and replace', () => {
  it('cancel releases the reservation; a filled order cannot be canceled', async () => {
    const before = await account();
    const o = await place({ symbol: 'TSLA', side: 'BUY', type: 'LIMIT', quantity: '10', limitPrice: '240' });
    expect((await account()).buyingPower).not.toBe(before.buyingPower);
    const r = await gql<{ cancelOrder: OrderView }>(
      url,
      `mutation($id: ID!) { cancelOrder(id: $id) { id status } }`,
      { id: o.id },
      token,
    );
    expect(r.data?.cancelOrder.status).toBe('CANCELED');
    expect((await account()).buyingPower).toBe(before.buyingPower);
    expect((await order(o.id)).events.at(-1)).toMatchObject({ type: 'CANCELED', reason: 'CANCELED_BY_USER' });
    const again = await gql(url, `mutation($id: ID!) { cancelOrder(id: $id) { id } }`, { id: o.id }, token);
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('replace cancels the original and places the change atomically', async () => {
    await feed('AAPL', '100.00', { bid: '99.99', ask: '100.01' });
    const o = await place({ symbol: 'AAPL', side: 'BUY', type: 'LIMIT', quantity: '3', limitPrice: '95' });
    const r = await gql<{ replaceOrder: OrderView & { replacesOrderId: string } }>(
      url,
      `mutation($id: ID!, $input: ReplaceOrderInput!) { replaceOrder(id: $id, input: $input) { ${ORDER_FIELDS} replacesOrderId } }`,
      { id: o.id, input: { clientOrderId: `rep-${o.id}`, limitPrice: '99.50' } },
      token,
    );
    const replacement = r.data?.replaceOrder;
    expect(replacement).toMatchObject({
      status: 'NEW',
      limitPrice: '99.5',
      quantity: '3',
      replacesOrderId: o.id,
    });
    const original = await order(o.id);
    expect(original.status).toBe('CANCELED');
    expect(original.events.at(-1)).toMatchObject({ type: 'REPLACED', reason: 'REPLACED' });
    await feed('AAPL', '99.40', { bid: '99.39', ask: '99.45' });
    expect((await order(replacement!.id)).status).toBe('FILLED');
    expect((await order(o.id)).status).toBe('CANCELED');
  });

  it('a replacement that fails a check is REJECTED and the original stays', async () => {
    await feed('AAPL', '100.00', { bid: '99.99', ask: '100.01' });
    const o = await place({ symbol: 'AAPL', side: 'BUY', type: 'LIMIT', quantity: '3', limitPrice: '95' });
    const r = await gql<{ replaceOrder: OrderView }>(
      url,
      `mutation($id: ID!, $input: ReplaceOrderInput!) { replaceOrder(id: $id, input: $input) { ${ORDER_FIELDS} } }`,
      { id: o.id, input: { clientOrderId: `rep-${o.id}`, quantity: '5000' } },
      token,
    );
    expect(r.data?.replaceOrder).toMatchObject({
      status: 'REJECTED',
      rejectReason: 'INSUFFICIENT_BUYING_POWER',
    });
    expect((await order(o.id)).status).toBe('NEW');
  });

  it('cancelAllOrders cancels every open order of the account (or of one symbol)', async () => {
    await place({ symbol: 'TSLA', side: 'BUY', type: 'LIMIT', quantity: '1', limitPrice: '230' });
    await place({ symbol: 'AAPL', side: 'BUY', type: 'LIMIT', quantity: '1', limitPrice: '90' });
    const one = await gql<{ cancelAllOrders: OrderView[] }>(
      url,
      `mutation($a: ID!, $s: ID) { cancelAllOrders(accountId: $a, symbol: $s) { id symbol status } }`,
      { a: t.accountId, s: 'TSLA' },
      token,
    );
    expect(one.data?.cancelAllOrders.length).toBeGreaterThan(0);
    expect(one.data?.cancelAllOrders.every((o) => o.symbol === 'TSLA' && o.status === 'CANCELED')).toBe(true);
    const all = await gql<{ cancelAllOrders: OrderView[] }>(
      url,
      `mutation($a: ID!) { cancelAllOrders(accountId: $a) { id status } }`,
      { a: t.accountId },
      token,
    );
    expect(all.data?.cancelAllOrders.length).toBeGreaterThan(0);
    const open = await gql<{ account: { orders: OrderView[] } }>(
      url,
      `query($a: ID!) { account(id: $a) { orders(status: NEW) { id } } }`,
      { a: t.accountId },
      token,
    );
    expect(open.data?.account.orders).toEqual([]);
    expect((await account()).reservedCash).toBe('0');
  });
});

describe('previewOrder', () => {
  it('runs the checks without placing anything', async () => {
    await feed('AAPL', '100.00', { bid: '99.99', ask: '100.01' });
    const q = `query($input: PlaceOrderInput!) { previewOrder(input: $input) { accepted rejectReason estimatedPrice estimatedNotional reservation buyingPower buyingPowerAfter } }`;
    const ok = await gql<{ previewOrder: Record<string, unknown> }>(
      url,
      q,
      {
        input: {
          accountId: t.accountId,
          clientOrderId: 'preview-1',
          symbol: 'AAPL',
          side: 'BUY',
          type: 'LIMIT',
          quantity: '10',
          limitPrice: '99',
        },
      },
      token,
    );
    expect(ok.data?.previewOrder).toMatchObject({ accepted: true, estimatedPrice: '99', reservation: '990' });
    const bad = await gql<{ previewOrder: Record<string, unknown> }>(
      url,
      q,
      {
        input: {
          accountId: t.accountId,
          clientOrderId: 'preview-2',
          symbol: 'AAPL',
          side: 'BUY',
          type: 'LIMIT',
          quantity: '10',
          limitPrice: '99.001',
        },
      },
      token,
    );
    expect(bad.data?.previewOrder).toMatchObject({ accepted: false, rejectReason: 'INVALID_TICK_SIZE' });
    const none = await env.admin.query(
      `SELECT 1 FROM "${t.schemaName}".orders WHERE client_order_id LIKE 'preview-%'`,
    );
    expect(none.rowCount).toBe(0);
  });
});

describe('validation', () => {
  it('malformed orders are BAD_USER_INPUT and store nothing', async () => {
    for (const input of [
      { symbol: 'AAPL', side: 'BUY', type: 'LIMIT', quantity: '1' },
      { symbol: 'AAPL', side: 'BUY', type: 'MARKET', quantity: '1', limitPrice: '10' },
      { symbol: 'AAPL', side: 'BUY', type: 'STOP', quantity: '1', stopPrice: '10', timeInForce: 'IOC' },
      { symbol: 'AAPL', side: 'BUY', type: 'MARKET', quantity: '-1' },
      { symbol: 'AAPL', side: 'BUY', type: 'MARKET', quantity: '1', clientOrderId: 'bad id!' },
    ]) {
      const r = await gql(
        url,
        PLACE,
        { input: { accountId: t.accountId, clientOrderId: `v-${++n}`, ...input } },
        token,
      );
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(input)).toBe('BAD_USER_INPUT');
    }
  });
});

describe('cash and roles', () => {
  const DEPOSIT = `mutation($input: CashMovementInput!) { deposit(input: $input) { cash } }`;
  const WITHDRAW = `mutation($input: CashMovementInput!) { withdraw(input: $input) { cash } }`;

  it('deposits and withdrawals move cash through the ledger, once per reference', async () => {
    const before = new Number((await account()).cash).valueOf();
    const d = await gql<{ deposit: { cash: string } }>(
      url,
      DEPOSIT,
      { input: { accountId: t.accountId, amount: '500.25', reference: 'wire-1' } },
      token,
    );
    expect(Number(d.data?.deposit.cash)).toBeCloseTo(before + 500.25, 4);
    const again = await gql<{ deposit: { cash: string } }>(
      url,
      DEPOSIT,
      { input: { accountId: t.accountId, amount: '500.25', reference: 'wire-1' } },
      token,
    );
    expect(again.data?.deposit.cash).toBe(d.data?.deposit.cash);
    const w = await gql<{ withdraw: { cash: string } }>(
      url,
      WITHDRAW,
      { input: { accountId: t.accountId, amount: '0.25' } },
      token,
    );
    expect(Number(w.data?.withdraw.cash)).toBeCloseTo(before + 500, 4);
    const tooMuch = await gql(
      url,
      WITHDRAW,
      { input: { accountId: t.accountId, amount: '100000000' } },
      token,
    );
    expect(tooMuch.errors?.[0]?.extensions).toMatchObject({
      code: 'RISK_REJECTED',
      reason: 'INSUFFICIENT_BUYING_POWER',
    });
  });

  it('VIEWER reads, TRADER trades, OWNER/ADMIN manage cash and limits', async () => {
    const viewer = await env.token(t, { role: 'VIEWER' });
    const trader = await env.token(t, { role: 'TRADER' });
    const admin = await env.token(t, { role: 'ADMIN' });
    expect((await gql(url, `{ accounts { id } }`, {}, viewer)).data).toMatchObject({
      accounts: [{ id: t.accountId }],
    });
    const input = {
      accountId: t.accountId,
      clientOrderId: `r-${++n}`,
      symbol: 'TSLA',
      side: 'BUY',
      type: 'LIMIT',
      quantity: '1',
      limitPrice: '240',
    };
    expect((await gql(url, PLACE, { input }, viewer)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(
      (await gql<{ placeOrder: OrderView }>(url, PLACE, { input }, trader)).data?.placeOrder.status,
    ).toBe('NEW');
    expect(
      (await gql(url, DEPOSIT, { input: { accountId: t.accountId, amount: '1' } }, trader)).errors?.[0]
        ?.extensions?.code,
    ).toBe('FORBIDDEN');
    const limits = await gql(
      url,
      `mutation($a: ID!) { updateRiskLimits(accountId: $a, input: { maxOrderQuantity: "5000" }) { maxOrderQuantity } }`,
      { a: t.accountId },
      trader,
    );
    expect(limits.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const ok = await gql(
      url,
      `mutation($a: ID!) { updateRiskLimits(accountId: $a, input: { maxOrderQuantity: "5000" }) { maxOrderQuantity maxOrderNotional } }`,
      { a: t.accountId },
      admin,
    );
    expect(ok.data).toEqual({ updateRiskLimits: { maxOrderQuantity: '5000', maxOrderNotional: '1000000' } });
    expect((await gql(url, `{ accounts { id } }`)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('ledger, history and the trade stream', () => {
  it('order events, executions and ledger rows are append-only', async () => {
    const err = await withTenant(
      svc.runtime().pool,
      { tenantId: t.tenantId, schemaName: t.schemaName },
      async (_tx, c) => {
        await c.query(`UPDATE order_events SET reason = 'tampered'`);
      },
    ).then(
      () => null,
      (e: unknown) => e as { code?: string; message: string },
    );
    expect(err?.code).toBe('42501');
    for (const sql of [
      'DELETE FROM executions',
      'DELETE FROM cash_ledger',
      'UPDATE cash_ledger SET amount = 0',
    ]) {
      const e = await withTenant(
        svc.runtime().pool,
        { tenantId: t.tenantId, schemaName: t.schemaName },
        async (_tx, c) => {
          await c.query(sql);
        },
      ).then(
        () => null,
        (x: unknown) => x as { code?: string },
      );
      expect(e?.code, sql).toBe('42501');
    }
  });

  it('every trade is in the Redis stream and the cached positions match the database', async () => {
    const redis = new Redis(env.config.REDIS_URL);
    try {
      const entries = await redis.xrange(`${env.config.REDIS_PREFIX}trading:trades`, '-', '+');
      const trades = await env.admin.query<{ id: string }>(`SELECT id FROM "${t.schemaName}".executions`);
      const ids = entries.map(([, fields]) => fields[fields.indexOf('tradeId') + 1]);
      expect(new Set(ids)).toEqual(new Set(trades.rows.map((r) => r.id)));
      const cached = await redis.hgetall(
        `${env.config.REDIS_PREFIX}trading:positions:${t.tenantId}:${t.accountId}`,
      );
      const positions = await env.admin.query<{ symbol: string; quantity: string }>(
        `SELECT symbol, quantity::text FROM "${t.schemaName}".positions WHERE quantity <> 0`,
      );
      expect(Object.keys(cached).sort()).toEqual(positions.rows.map((p) => p.symbol).sort());
      for (const p of positions.rows) {
        expect(Number((JSON.parse(cached[p.symbol] ?? '{}') as { quantity: string }).quantity)).toBe(
          Number(p.quantity),
        );
      }
    } finally {
      redis.disconnect();
    }
  });
});
