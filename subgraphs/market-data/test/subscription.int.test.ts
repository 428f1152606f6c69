import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ingressWebSocket } from '../../../test/support/ingress.js';
import type { MarketDataService } from '../src/service.js';
import { createMarketTestEnv, type MarketTestEnv } from './helpers.js';

let env: MarketTestEnv;
let svc: MarketDataService;
let wsUrl: string;
const clients: Client[] = [];

beforeAll(async () => {
  env = await createMarketTestEnv('md_subscribe', {
    MARKET_FEED_TICKS_PER_SECOND: '300',
    MARKET_FEED_SYMBOLS: 'AAPL,MSFT,EURUSD,BTCUSD,SPY',
    MARKET_FEED_LOCK_TTL_MS: '1000',
  });
  svc = env.service();
  const { url } = await svc.start();
  wsUrl = `${url.replace('http', 'ws')}/graphql`;
});

afterAll(async () => {
  for (const c of clients) await c.dispose();
  await svc?.stop();
  await env?.cleanup();
});

function client(token: string | undefined, onClosed?: (code: number, reason: string) => void): Client {
  const c = createClient({
    url: wsUrl,
    webSocketImpl: ingressWebSocket(),
    retryAttempts: 0,
    lazy: true,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    on: {
      closed: (event) => {
        const e = event as { code: number; reason: string };
        onClosed?.(e.code, e.reason);
      },
    },
  });
  clients.push(c);
  return c;
}

const SUBSCRIPTION = `subscription($symbols: [ID!]!) {
  priceUpdated(symbols: $symbols) { symbol price bid ask size timestamp instrument { symbol name tickSize } }
}`;

interface PriceTick {
  symbol: string;
  price: string;
  bid: string;
  ask: string;
  size: string;
  timestamp: string;
  instrument: { symbol: string; name: string; tickSize: string };
}

describe('priceUpdated over graphql-ws (directly on the subgraph)', () => {
  it('refuses an upgrade without the service credential (403, FORBIDDEN), even with a valid token', async () => {
    const token = await env.token();
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(wsUrl, 'graphql-transport-ws', {
        headers: { authorization: `Bearer ${token}` },
      });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('open', () => {
        ws.close();
        reject(new Error('upgrade accepted without the credential'));
      });
    });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
  });

  it('delivers ticks of the requested symbols only, with the instrument', async () => {
    const c = client(await env.token());
    const got: PriceTick[] = [];
    await new Promise<void>((resolve, reject) => {
      const unsubscribe = c.subscribe<{ priceUpdated: PriceTick }>(
        { query: SUBSCRIPTION, variables: { symbols: ['AAPL', 'EURUSD'] } },
        {
          next: (msg) => {
            if (msg.errors) reject(new Error(JSON.stringify(msg.errors)));
            if (msg.data) got.push(msg.data.priceUpdated);
            if (got.length >= 60) {
              unsubscribe();
              resolve();
            }
          },
          error: reject,
          complete: () => resolve(),
        },
      );
    });
    expect(got.length).toBeGreaterThanOrEqual(60);
    expect(new Set(got.map((t) => t.symbol))).toEqual(new Set(['AAPL', 'EURUSD']));
    for (const t of got) {
      expect(t.instrument.symbol).toBe(t.symbol);
      expect(Number(t.bid)).toBeLessThan(Number(t.ask));
      expect(typeof t.price).toBe('string');
      expect(Number.isNaN(Date.parse(t.timestamp))).toBe(false);
    }
    expect(got.find((t) => t.symbol === 'EURUSD')!.instrument.tickSize).toBe('0.00001');
    expect(got.find((t) => t.symbol === 'EURUSD')!.price.split('.')[1]).toHaveLength(5);
  });

  it('answers an unknown symbol with BAD_USER_INPUT', async () => {
    expect.assertions(2);
    const c = client(await env.token());
    // graphql-js reports a failing subscribe resolver as a single result with errors (a `next`
    // message followed by `complete`), not as a graphql-ws `error` message.
    const errors = await new Promise<readonly { extensions?: { code?: string } }[]>((resolve) => {
      c.subscribe(
        { query: SUBSCRIPTION, variables: { symbols: ['AAPL', 'NOPE'] } },
        {
          next: (msg) => {
            if (msg.errors) resolve(msg.errors);
          },
          error: (err) => resolve(err as { extensions?: { code?: string } }[]),
          complete: () => resolve([]),
        },
      );
    });
    expect(Array.isArray(errors)).toBe(true);
    expect(errors.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses connections without a valid token', async () => {
    for (const token of [undefined, 'not-a-jwt']) {
      const closed = new Promise<number>((resolve) => {
        const c = client(token, (code) => resolve(code));
        c.subscribe(
          { query: SUBSCRIPTION, variables: { symbols: ['AAPL'] } },
          {
            next: () => undefined,
            error: () => undefined,
            complete: () => undefined,
          },
        );
      });
      expect(await closed).toBe(4403);
    }
  });

  it('closes the socket when the access token expires', async () => {
    const token = await env.token({ ttlSeconds: 2 });
    const c = createClient({
      url: wsUrl,
      webSocketImpl: ingressWebSocket(),
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token}` },
    });
    clients.push(c);
    const result = await new Promise<{ code: number; reason: string }>((resolve) => {
      c.on('closed', (event) => {
        const e = event as { code: number; reason: string };
        resolve({ code: e.code, reason: e.reason });
      });
      c.subscribe(
        { query: SUBSCRIPTION, variables: { symbols: ['AAPL'] } },
        {
          next: () => undefined,
          error: () => undefined,
          complete: () => undefined,
        },
      );
    });
    expect(result).toEqual({ code: 4401, reason: 'Access token expired' });
  });

  it('releases Redis channels when subscribers leave', async () => {
    const { subscriptions } = svc.runtime().metrics;
    const deadline = Date.now() + 5_000;
    while ((await subscriptions.get()).values[0]?.value !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await subscriptions.get()).values[0]?.value).toBe(0);
  });
});
