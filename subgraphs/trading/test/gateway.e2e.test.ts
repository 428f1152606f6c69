/**
 * Trading end to end through the gateway, as a web client uses it: register, wait for the tenant's
 * paper account, trade on market-data's live (simulated) feed, and read federated fields across
 * trading and market-data (`Position.instrument { name }`, `Instrument.position`). The trading
 * service runs with its production collaborators: auth's JWKS, session liveness, and the instrument
 * catalog from market-data's GraphQL API.
 */
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { eventually, gql, startPlatform, type RunningPlatform } from '../../../test/support/platform.js';
import { createTradingService, type TradingService } from '../src/service.js';
import { createMarketDataService, type MarketDataService } from '../../../test/support/services.js';

let env: TestEnv;
let platform: RunningPlatform;
let market: MarketDataService;
let trading: TradingService;
let url: string;
let token: string;
let accountId: string;

beforeAll(async () => {
  env = await createTestEnv('trading_e2e', {
    TRADING_PORT: '0',
    MARKET_DATA_PORT: '0',
    MARKET_FEED_SYMBOLS: 'AAPL,MSFT',
    MARKET_FEED_TICKS_PER_SECOND: '40',
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
  });
  // Port 0 for the two subgraphs started here (a port picked in advance could be taken meanwhile);
  // the gateway and trading are then told where they are.
  market = createMarketDataService(env.config);
  const { url: marketDataUrl } = await market.start();
  trading = createTradingService({ ...env.config, marketDataUrl });
  const { url: tradingUrl } = await trading.start();
  platform = await startPlatform({ ...env, config: { ...env.config, marketDataUrl, tradingUrl } });
  url = platform.gatewayUrl;

  const r = await gql<{ register: { accessToken: string; tenant: { id: string } } }>(
    url,
    `mutation($input: RegisterInput!) { register(input: $input) { accessToken tenant { id } } }`,
    {
      input: {
        email: 'trader@example.com',
        password: 'correct horse battery staple',
        organizationName: 'Trader Co',
      },
    },
  );
  token = r.data!.register.accessToken;
  accountId = await eventually(async () => {
    const a = await gql<{ accounts: { id: string }[] }>(url, '{ accounts { id } }', {}, token);
    return a.data?.accounts[0]?.id;
  }, 'paper account');
}, 120_000);

const sockets: Client[] = [];

afterAll(async () => {
  for (const c of sockets) await c.dispose();
  await trading?.stop();
  await market?.stop();
  await platform?.stop();
  await env?.cleanup();
});

describe('trading through the gateway', () => {
  it('a new organization has one paper account with the starting cash', async () => {
    const r = await gql<{
      accounts: { cash: string; buyingPower: string; currency: string; tradingState: string }[];
    }>(url, '{ accounts { cash buyingPower currency tradingState } }', {}, token);
    expect(r.data?.accounts).toEqual([
      { cash: '100000', buyingPower: '100000', currency: 'USD', tradingState: 'ACTIVE' },
    ]);
  });

  it('fills a market order on the live feed, with federated instrument fields', async () => {
    // The feed needs a moment to publish its first quotes.
    const order = await eventually(async () => {
      const r = await gql<{
        placeOrder: {
          status: string;
          rejectReason: string | null;
          averageFillPrice: string | null;
          instrument: { name: string };
        };
      }>(
        url,
        `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
           status rejectReason averageFillPrice instrument { name } } }`,
        {
          input: {
            accountId,
            clientOrderId: `e2e-${Date.now()}`,
            symbol: 'AAPL',
            side: 'BUY',
            type: 'MARKET',
            quantity: '10',
          },
        },
        token,
      );
      const o = r.data?.placeOrder;
      return o && o.rejectReason !== 'NO_MARKET_DATA' ? o : undefined;
    }, 'a quote for AAPL');
    expect(order).toMatchObject({ status: 'FILLED', instrument: { name: 'Apple Inc.' } });

    const a = await gql<{
      account: {
        positions: { symbol: string; quantity: string; instrument: { name: string; tickSize: string } }[];
      };
    }>(
      url,
      `query($id: ID!) { account(id: $id) { positions { symbol quantity instrument { name tickSize } } } }`,
      { id: accountId },
      token,
    );
    expect(a.data?.account.positions).toEqual([
      { symbol: 'AAPL', quantity: '10', instrument: { name: 'Apple Inc.', tickSize: '0.01' } },
    ]);
    const i = await gql<{ instrument: { name: string; position: { quantity: string } | null } }>(
      url,
      `{ instrument(symbol: "AAPL") { name position { quantity } } }`,
      {},
      token,
    );
    expect(i.data?.instrument).toEqual({ name: 'Apple Inc.', position: { quantity: '10' } });
  });

  it('risk rejections are orders, not errors, and unknown symbols are rejected by the catalog', async () => {
    const r = await gql<{ placeOrder: { status: string; rejectReason: string } }>(
      url,
      `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { status rejectReason } }`,
      {
        input: {
          accountId,
          clientOrderId: 'e2e-unknown',
          symbol: 'NOPE',
          side: 'BUY',
          type: 'LIMIT',
          quantity: '1',
          limitPrice: '1',
        },
      },
      token,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data?.placeOrder).toEqual({ status: 'REJECTED', rejectReason: 'UNKNOWN_INSTRUMENT' });
  });

  it('delivers orderUpdated and tradeExecuted through the gateway, with instrument fields from market-data', async () => {
    const client = createClient({
      url: url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token}` },
    });
    sockets.push(client);
    const orders: {
      orderUpdated: { clientOrderId: string; status: string; instrument: { name: string } };
    }[] = [];
    const trades: {
      tradeExecuted: { quantity: string; order: { status: string }; instrument: { name: string } };
    }[] = [];
    const errors: unknown[] = [];
    const sink = <T>(into: T[]) => ({
      next: (v: { data?: unknown; errors?: unknown }) => {
        if (v.errors) errors.push(v.errors);
        else if (v.data) into.push(v.data as T);
      },
      error: (e: unknown) => errors.push(e),
      complete: () => undefined,
    });
    client.subscribe(
      {
        query: `subscription($a: ID!) { orderUpdated(accountId: $a) { clientOrderId status instrument { name } } }`,
        variables: { a: accountId },
      },
      sink(orders),
    );
    client.subscribe(
      {
        query: `subscription($a: ID!) { tradeExecuted(accountId: $a) { quantity order { status } instrument { name } } }`,
        variables: { a: accountId },
      },
      sink(trades),
    );
    // The gateway subscribes upstream asynchronously: place orders until the first event arrives.
    const placed: string[] = [];
    await eventually(
      async () => {
        const id = `sub-${placed.length}`;
        placed.push(id);
        await gql(
          url,
          `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }`,
          {
            input: {
              accountId,
              clientOrderId: id,
              symbol: 'AAPL',
              side: 'BUY',
              type: 'MARKET',
              quantity: '1',
            },
          },
          token,
        );
        return orders.length > 0 && trades.length > 0 ? true : undefined;
      },
      'subscription events',
      15_000,
      200,
    );
    expect(errors).toEqual([]);
    expect(orders.at(-1)?.orderUpdated).toMatchObject({
      status: 'FILLED',
      instrument: { name: 'Apple Inc.' },
    });
    expect(placed).toContain(orders.at(-1)?.orderUpdated.clientOrderId);
    expect(trades.at(-1)?.tradeExecuted).toEqual({
      quantity: '1',
      order: { status: 'FILLED' },
      instrument: { name: 'Apple Inc.' },
    });
  });
});
