/**
 * Tenant isolation through the API and subscriptions over graphql-ws on the subgraph: no query,
 * mutation, entity reference or subscription of tenant B reaches an order or account of tenant A, and
 * a subscriber sees exactly its own account's order updates and trades, in commit order.
 */
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TradingService } from '../src/service.js';
import {
  gql,
  PLACE,
  startTrading,
  tick,
  wsClient,
  type OrderView,
  type Tenant,
  type TradingTestEnv,
} from './support.js';
import { eventually } from '../../../test/support/wait.js';

let env: TradingTestEnv;
let svc: TradingService;
let url: string;
let a: Tenant;
let b: Tenant;
let tokenA: string;
let tokenB: string;
let orderA: OrderView;
const clients: Client[] = [];

beforeAll(async () => {
  ({ env, svc, url } = await startTrading('trading_isolation'));
  [a, b] = await Promise.all([env.tenant(), env.tenant()]);
  [tokenA, tokenB] = await Promise.all([env.token(a), env.token(b)]);
  await svc.runtime().engine!.ingest(tick('AAPL', '100.00'));
  const r = await gql<{ placeOrder: OrderView }>(
    url,
    PLACE,
    {
      input: {
        accountId: a.accountId,
        clientOrderId: 'a-1',
        symbol: 'AAPL',
        side: 'BUY',
        type: 'LIMIT',
        quantity: '2',
        limitPrice: '95',
      },
    },
    tokenA,
  );
  orderA = r.data!.placeOrder;
});

afterAll(async () => {
  for (const c of clients) await c.dispose();
  await svc?.stop();
  await env?.cleanup();
});

function client(token: string): Client {
  const c = wsClient(url, token);
  clients.push(c);
  return c;
}

interface Collected<T> {
  events: T[];
  errors: unknown[];
  stop: () => void;
}

function collect<T>(c: Client, query: string, variables: Record<string, unknown>): Collected<T> {
  const out: Collected<T> = { events: [], errors: [], stop: () => undefined };
  out.stop = c.subscribe<T>(
    { query, variables },
    {
      next: (v) => {
        if (v.errors) out.errors.push(...v.errors);
        else if (v.data) out.events.push(v.data);
      },
      error: (e) => out.errors.push(e),
      complete: () => undefined,
    },
  );
  return out;
}

const ORDER_SUB = `subscription($a: ID!) { orderUpdated(accountId: $a) { id clientOrderId status filledQuantity instrument { symbol } } }`;
const TRADE_SUB = `subscription($a: ID!) { tradeExecuted(accountId: $a) { id accountId symbol side quantity price order { id status } instrument { symbol } } }`;

describe("tenant B cannot reach tenant A's orders", () => {
  it('by query or entity reference', async () => {
    const q = await gql<{ order: unknown; account: unknown }>(
      url,
      `query($o: ID!, $a: ID!) { order(id: $o) { id } account(id: $a) { id } }`,
      { o: orderA.id, a: a.accountId },
      tokenB,
    );
    expect(q.data).toEqual({ order: null, account: null });
    const accounts = await gql<{ accounts: { id: string }[] }>(url, `{ accounts { id } }`, {}, tokenB);
    expect(accounts.data?.accounts).toEqual([{ id: b.accountId }]);
    const entities = await gql<{ _entities: unknown[] }>(
      url,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id status } ... on Account { id cash } } }`,
      {
        r: [
          { __typename: 'Order', id: orderA.id },
          { __typename: 'Account', id: a.accountId },
        ],
      },
      tokenB,
    );
    expect(entities.data?._entities).toEqual([null, null]);
  });

  it('by mutation', async () => {
    const attempts: [string, Record<string, unknown>][] = [
      [`mutation($id: ID!) { cancelOrder(id: $id) { id } }`, { id: orderA.id }],
      [
        `mutation($id: ID!) { replaceOrder(id: $id, input: { clientOrderId: "x", limitPrice: "96" }) { id } }`,
        { id: orderA.id },
      ],
      [`mutation($a: ID!) { cancelAllOrders(accountId: $a) { id } }`, { a: a.accountId }],
      [
        PLACE,
        {
          input: {
            accountId: a.accountId,
            clientOrderId: 'b-1',
            symbol: 'AAPL',
            side: 'BUY',
            type: 'MARKET',
            quantity: '1',
          },
        },
      ],
      [`mutation($a: ID!) { deposit(input: { accountId: $a, amount: "1" }) { cash } }`, { a: a.accountId }],
      [`mutation($a: ID!) { withdraw(input: { accountId: $a, amount: "1" }) { cash } }`, { a: a.accountId }],
      [
        `mutation($a: ID!) { updateRiskLimits(accountId: $a, input: { maxOrderQuantity: "1" }) { maxOrderQuantity } }`,
        { a: a.accountId },
      ],
      [`mutation($a: ID!) { setTradingState(accountId: $a, state: HALTED) { id } }`, { a: a.accountId }],
    ];
    for (const [query, variables] of attempts) {
      const r = await gql(url, query, variables, tokenB);
      expect(r.errors?.[0]?.extensions?.code, query).toBe('NOT_FOUND');
    }
    const still = await env.admin.query<{ status: string }>(
      `SELECT status FROM "${a.schemaName}".orders WHERE id = $1`,
      [orderA.id],
    );
    expect(still.rows[0]?.status).toBe('NEW');
    const cash = await env.admin.query<{ cash: string; n: number }>(
      `SELECT cash::text, (SELECT count(*)::int FROM "${a.schemaName}".cash_ledger) AS n FROM "${a.schemaName}".accounts`,
    );
    expect(cash.rows[0]).toEqual({ cash: '100000.0000', n: 1 });
  });

  it('by subscription', async () => {
    const sub = collect(client(tokenB), ORDER_SUB, { a: a.accountId });
    await eventually(() => (sub.errors.length > 0 ? true : undefined), 'subscription refused');
    expect(JSON.stringify(sub.errors)).toContain('NOT_FOUND');
  });
});

describe('subscriptions', () => {
  it("deliver only the own account's order updates and trades, in commit order, with federated fields", async () => {
    const ordersA = collect<{
      orderUpdated: { clientOrderId: string; status: string; instrument: { symbol: string } };
    }>(client(tokenA), ORDER_SUB, { a: a.accountId });
    const tradesA = collect<{
      tradeExecuted: {
        accountId: string;
        quantity: string;
        price: string;
        order: { id: string; status: string };
      };
    }>(client(tokenA), TRADE_SUB, { a: a.accountId });
    const ordersB = collect<{ orderUpdated: { clientOrderId: string } }>(client(tokenB), ORDER_SUB, {
      a: b.accountId,
    });
    // Live once the server listens to their channels (the subscriptions gauge counts them).
    await eventually(async () => {
      const gauge = await svc.runtime().metrics.subscriptions.get();
      return (gauge.values[0]?.value ?? 0) >= 3 ? true : undefined;
    }, 'subscriptions listening');

    const market = await gql<{ placeOrder: OrderView }>(
      url,
      PLACE,
      {
        input: {
          accountId: a.accountId,
          clientOrderId: 'a-2',
          symbol: 'AAPL',
          side: 'BUY',
          type: 'MARKET',
          quantity: '3',
        },
      },
      tokenA,
    );
    expect(market.data?.placeOrder.status).toBe('FILLED');
    await svc.runtime().engine!.ingest(tick('AAPL', '94.90', { bid: '94.89', ask: '94.91' }));
    await gql(
      url,
      PLACE,
      {
        input: {
          accountId: b.accountId,
          clientOrderId: 'b-2',
          symbol: 'AAPL',
          side: 'BUY',
          type: 'LIMIT',
          quantity: '1',
          limitPrice: '90',
        },
      },
      tokenB,
    );

    await eventually(
      () => (ordersA.events.length >= 2 && tradesA.events.length >= 2 ? true : undefined),
      'events of A',
    );
    await eventually(() => (ordersB.events.length >= 1 ? true : undefined), 'events of B');
    expect(ordersA.errors).toEqual([]);
    expect(ordersA.events.map((e) => [e.orderUpdated.clientOrderId, e.orderUpdated.status])).toEqual([
      ['a-2', 'FILLED'],
      ['a-1', 'FILLED'],
    ]);
    expect(ordersA.events[0]?.orderUpdated.instrument).toEqual({ symbol: 'AAPL' });
    expect(
      tradesA.events.map((e) => [
        e.tradeExecuted.quantity,
        e.tradeExecuted.price,
        e.tradeExecuted.order.status,
      ]),
    ).toEqual([
      ['3', '100.01', 'FILLED'],
      ['2', '94.91', 'FILLED'],
    ]);
    expect(tradesA.events.every((e) => e.tradeExecuted.accountId === a.accountId)).toBe(true);
    expect(ordersB.events.map((e) => e.orderUpdated.clientOrderId)).toEqual(['b-2']);
  });

  it('refuse a socket without a valid token', async () => {
    const c = wsClient(url, 'not-a-token');
    clients.push(c);
    const sub = collect(c, ORDER_SUB, { a: a.accountId });
    await eventually(() => (sub.errors.length > 0 ? true : undefined), 'socket closed');
    expect((sub.errors[0] as { code?: number }).code).toBe(4403);
  });
});
