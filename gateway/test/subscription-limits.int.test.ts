/**
 * Subscription containment at the gateway's graphql-ws endpoint, against a real graphql-ws subgraph,
 * real Redis and the test JWKS / sessions fixtures: caps per socket, per user and per IP (across two
 * gateway replicas), rate limits on connection_init and subscribe, the static document rules, and the
 * periodic session re-check that closes a socket whose revocation message never arrived. Each gateway
 * gets its own key prefix, each test its own client IPs (X-Forwarded-For from loopback is honoured).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { Config } from '../../lib/config.js';
import { createTestEnv, type TestEnv } from '../../test/support/env.js';
import { eventually } from '../../test/support/wait.js';
import { createGateway, type GatewayService } from '../src/gateway.js';
import { composeSupergraph, startAuthFixtures, type AuthFixtures } from './support/harness.js';

const TYPE_DEFS = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
type Query { ping: String }
type PriceTick { symbol: ID!  price: String!  next: PriceTick }
type Subscription { priceUpdated(symbols: [ID!]!): PriceTick!  orderUpdated(accountId: ID!): PriceTick! }
`;
const PRICE = 'subscription($s: [ID!]!) { priceUpdated(symbols: $s) { symbol price } }';

let env: TestEnv;
let auth: AuthFixtures;
let base: Config;
let upstream: { url: string; open: () => number; maxOpen: number; stop: () => Promise<void> };
const gateways: GatewayService[] = [];
const clients: Client[] = [];

/** A market-data stand-in: every symbol ticks twice a second; counts its sockets. */
async function startUpstream(): Promise<typeof upstream> {
  const tick = (symbol: string, n: number): Record<string, unknown> => ({
    symbol,
    price: String(n),
    get next() {
      return tick(symbol, n + 1);
    },
  });
  const schema = buildSubgraphSchema({
    typeDefs: parse(TYPE_DEFS),
    resolvers: {
      Query: { ping: () => 'pong' },
      Subscription: {
        // A caller-dependent stream (not public market data), as trading's is.
        orderUpdated: {
          subscribe: async function* (_p: unknown, args: { accountId: string }) {
            for (let n = 1; ; n++) {
              yield { orderUpdated: tick(args.accountId, n) };
              await new Promise((r) => setTimeout(r, 500));
            }
          },
        },
        priceUpdated: {
          subscribe: async function* (_p: unknown, args: { symbols: string[] }) {
            for (let n = 1; ; n++) {
              for (const s of args.symbols) yield { priceUpdated: tick(s, n) };
              await new Promise((r) => setTimeout(r, 500));
            }
          },
        },
      },
    },
  });
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const state = { open: 0, maxOpen: 0 };
  const ws = useServer(
    {
      schema,
      onConnect: () => {
        state.open++;
        state.maxOpen = Math.max(state.maxOpen, state.open);
        return true;
      },
      onClose: (ctx) => {
        if (ctx.acknowledged) state.open--;
      },
    },
    wss,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    open: () => state.open,
    get maxOpen() {
      return state.maxOpen;
    },
    set maxOpen(n) {
      state.maxOpen = n;
    },
    async stop() {
      await ws.dispose();
      await new Promise((r) => wss.close(r));
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

beforeAll(async () => {
  env = await createTestEnv('gateway_subs_limits');
  auth = await startAuthFixtures(env.config);
  upstream = await startUpstream();
  const supergraphPath = path.join(env.tmpDir, 'supergraph.graphql');
  await writeFile(
    supergraphPath,
    composeSupergraph([{ name: 'market-data', url: upstream.url, typeDefs: TYPE_DEFS }]),
  );
  base = {
    ...env.config,
    GATEWAY_PORT: 0,
    // The clients below stand for several addresses by sending X-Forwarded-For from loopback.
    TRUSTED_PROXIES: ['loopback'],
    SUPERGRAPH_PATH: supergraphPath,
    jwksUrl: auth.jwksUrl,
    sessionsUrl: auth.sessionsUrl,
  };
});

afterAll(async () => {
  for (const c of clients) await c.dispose();
  for (const g of gateways) await g.stop();
  await upstream?.stop();
  await auth?.stop();
  await env?.cleanup();
});

/** Starts a gateway with `limits` and the key prefix `name` (replicas share a name); returns its ws URL. */
async function gatewayWith(limits: Partial<Config>, name: string): Promise<string> {
  const g = createGateway(
    { ...base, ...limits, REDIS_PREFIX: `${env.config.REDIS_PREFIX}${name}:` },
    { subgraphUrls: { 'market-data': upstream.url } },
  );
  gateways.push(g);
  const { url } = await g.start();
  return `${url.replace(/^http/, 'ws')}/graphql`;
}

/** A `ws` WebSocket that says it was forwarded for `ip` (the gateway trusts loopback proxies). */
function forwardedFor(ip: string): unknown {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { 'x-forwarded-for': ip } });
    }
  };
}

interface Socket {
  client: Client;
  /** Close codes and reasons, in order. */
  closes: { code: number; reason: string }[];
  acked: boolean;
}

function socket(url: string, token: string, ip: string): Socket {
  const s: Socket = { client: undefined as unknown as Client, closes: [], acked: false };
  s.client = createClient({
    url,
    webSocketImpl: forwardedFor(ip),
    lazy: false,
    // Closes are what these tests look at (`closes`); graphql-ws would also print them.
    onNonLazyError: () => undefined,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
    on: {
      connected: () => {
        s.acked = true;
      },
      closed: (e) => void s.closes.push(e as { code: number; reason: string }),
    },
  });
  clients.push(s.client);
  return s;
}

interface Sub {
  events: unknown[];
  errors: { message: string; extensions?: Record<string, unknown> }[] | undefined;
  completed: boolean;
  dispose: () => void;
}

function subscribe(s: Socket, query: string, variables: Record<string, unknown>): Sub {
  const sub: Sub = { events: [], errors: undefined, completed: false, dispose: () => undefined };
  sub.dispose = s.client.subscribe(
    { query, variables },
    {
      next: (r) => void sub.events.push(r),
      error: (e) => {
        sub.errors = Array.isArray(e) ? (e as Sub['errors']) : [{ message: String(e) }];
      },
      complete: () => {
        sub.completed = true;
      },
    },
  );
  return sub;
}

/** Subscribes `n` distinct symbols; waits until each is live (an event) or refused (an error). */
async function many(s: Socket, n: number, tag: string): Promise<Sub[]> {
  const subs = Array.from({ length: n }, (_, i) => subscribe(s, PRICE, { s: [`${tag}-${i}`] }));
  await eventually(
    () => (subs.every((x) => x.events.length > 0 || x.errors) ? true : undefined),
    `${n} subscriptions answered`,
  );
  return subs;
}

const codes = (subs: Sub[]): (string | undefined)[] =>
  subs.filter((x) => x.errors).map((x) => x.errors?.[0]?.extensions?.['code'] as string | undefined);

describe('subscription limits at the gateway', () => {
  it('refuses subscriptions beyond the per-socket cap on their ids and keeps the socket and the others', async () => {
    const url = await gatewayWith({}, 'per_socket');
    upstream.maxOpen = upstream.open();
    const s = socket(url, await auth.mint(), '203.0.113.10');
    // Defaults: 50 per socket, 300 subscribes per socket per minute.
    const subs = await many(s, 300, 'socket');
    const live = subs.filter((x) => x.events.length > 0);
    expect(live).toHaveLength(50);
    expect(codes(subs)).toEqual(Array.from({ length: 250 }, () => 'QUOTA_EXCEEDED'));
    const refused = subs.find((x) => x.errors);
    expect(refused?.errors?.[0]).toMatchObject({
      message: 'Live subscriptions per socket exceed the limit of 50',
      extensions: { code: 'QUOTA_EXCEEDED', limit: 'subscriptions_per_socket', max: 50 },
    });
    // The socket is open and the 50 keep receiving events.
    expect(s.closes).toEqual([]);
    const seen = live.map((x) => x.events.length);
    await eventually(
      () => (live.every((x, i) => x.events.length > (seen[i] ?? 0)) ? true : undefined),
      'events after the refusals',
    );
    // The 50 distinct streams share the upstream pool (at most 2 sockets to the subgraph).
    expect(upstream.maxOpen).toBeLessThanOrEqual(2);

    // The 301st subscribe in the window is over the per-socket rate.
    const [limited] = await many(s, 1, 'socket-rate');
    expect(limited?.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'subscribe_rate_per_socket',
      max: 300,
    });
    expect(limited?.errors?.[0]?.extensions?.['retryAfter']).toBeGreaterThanOrEqual(1);
    expect(limited?.errors?.[0]?.message).toBe('Subscribes per socket exceed the limit of 300 per 60 s');
    expect(s.closes).toEqual([]);
    for (const x of live) x.dispose();
  });

  it('caps caller-dependent subscriptions per user far below the general cap; market data still flows', async () => {
    const url = await gatewayWith({}, 'private');
    const s = socket(url, await auth.mint({ sub: randomUUID() }), '203.0.113.15');
    const ORDER = 'subscription($a: ID!) { orderUpdated(accountId: $a) { symbol price } }';
    const orders = Array.from({ length: 15 }, (_, i) => subscribe(s, ORDER, { a: `acct-${i}` }));
    await eventually(
      () => (orders.every((x) => x.events.length > 0 || x.errors) ? true : undefined),
      '15 account subscriptions answered',
    );
    // Default SUBSCRIPTIONS_MAX_PRIVATE_PER_USER: 10.
    expect(orders.filter((x) => x.events.length > 0)).toHaveLength(10);
    expect(orders.find((x) => x.errors)?.errors?.[0]).toMatchObject({
      message: 'Live account subscriptions per user exceed the limit of 10',
      extensions: { code: 'QUOTA_EXCEEDED', limit: 'account_subscriptions_per_user', max: 10 },
    });
    const prices = await many(s, 5, 'private-prices');
    expect(codes(prices)).toEqual([]);
    // Ending one frees its place.
    orders.find((x) => x.events.length > 0)?.dispose();
    await eventually(async () => {
      const [again] = await many(s, 0, 'none').then(() => [subscribe(s, ORDER, { a: 'acct-again' })]);
      await eventually(
        () => (again && (again.events.length > 0 || again.errors) ? true : undefined),
        'answer',
      );
      return again?.events.length ? true : (again?.dispose(), undefined);
    }, 'a freed account subscription');
    expect(s.closes).toEqual([]);
  });

  it('caps live subscriptions per user and per IP across two gateway replicas', async () => {
    const limits = { SUBSCRIPTIONS_MAX_PER_USER: 60, SUBSCRIPTIONS_MAX_PER_IP: 90 };
    const [a, b] = [await gatewayWith(limits, 'caps'), await gatewayWith(limits, 'caps')];
    const user = randomUUID();
    const onA = socket(a, await auth.mint({ sub: user }), '203.0.113.20');
    const first = await many(onA, 40, 'user-a');
    expect(codes(first)).toEqual([]);
    const onB = socket(b, await auth.mint({ sub: user }), '203.0.113.21');
    const second = await many(onB, 40, 'user-b');
    expect(second.filter((x) => x.events.length > 0)).toHaveLength(20);
    expect(codes(second)).toEqual(Array.from({ length: 20 }, () => 'QUOTA_EXCEEDED'));
    expect(second.find((x) => x.errors)?.errors?.[0]?.message).toBe(
      'Live subscriptions per user exceed the limit of 60',
    );

    // Closing the socket on replica A gives its 40 back to the user.
    await onA.client.dispose();
    await eventually(async () => {
      const [again] = await many(onB, 1, `user-b-again-${randomUUID()}`);
      if (again?.errors) return undefined;
      return true;
    }, 'room freed by the closed socket');

    // Per IP: two more users behind one address, 50 + 40 live, then the IP is full.
    const ip = '203.0.113.30';
    const one = await many(socket(a, await auth.mint(), ip), 50, 'ip-one');
    expect(codes(one)).toEqual([]);
    const two = await many(socket(b, await auth.mint(), ip), 50, 'ip-two');
    expect(two.filter((x) => x.events.length > 0)).toHaveLength(40);
    expect(two.find((x) => x.errors)?.errors?.[0]).toMatchObject({
      message: 'Live subscriptions per client IP exceed the limit of 90',
      extensions: { code: 'QUOTA_EXCEEDED', limit: 'subscriptions_per_ip', max: 90 },
    });
    for (const x of [...second, ...one, ...two]) x.dispose();
  });

  it('closes a connection_init over the per-IP rate with 4029, and limits subscribes per user', async () => {
    const url = await gatewayWith(
      { SUBSCRIPTIONS_CONNECT_RATE_PER_IP: 3, SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_USER: 5 },
      'rates',
    );
    const user = randomUUID();
    const admitted: Socket[] = [];
    for (let i = 0; i < 3; i++) admitted.push(socket(url, await auth.mint({ sub: user }), '203.0.113.41'));
    await eventually(() => (admitted.every((s) => s.acked) ? true : undefined), 'three sockets admitted');
    const fourth = socket(url, await auth.mint({ sub: user }), '203.0.113.41');
    await eventually(() => (fourth.closes.length > 0 ? true : undefined), 'the fourth socket closed');
    expect(fourth.acked).toBe(false);
    expect(fourth.closes[0]?.code).toBe(4029);
    expect(fourth.closes[0]?.reason).toMatch(
      /^Connections per client IP exceed the limit of 3 per 60 s; retry after \d+ s$/,
    );
    // Another address is not affected.
    const elsewhere = socket(url, await auth.mint({ sub: user }), '203.0.113.42');
    await eventually(() => (elsewhere.acked ? true : undefined), 'another IP admitted');

    // Five subscribes of the user across its sockets, then RATE_LIMITED on the sixth's id.
    const subs: Sub[] = [];
    for (const s of [...admitted, elsewhere].slice(0, 3))
      subs.push(...(await many(s, 2, `rate-${subs.length}`)));
    expect(codes(subs)).toEqual(['RATE_LIMITED']);
    const refused = subs.find((x) => x.errors)?.errors?.[0];
    expect(refused?.message).toBe('Subscribes per user exceed the limit of 5 per 60 s');
    expect(refused?.extensions?.['retryAfter']).toBeGreaterThanOrEqual(1);
    expect(admitted.every((s) => s.closes.length === 0)).toBe(true);
  });

  it("limits a user's subscribes over the burst window too, with its own window in the refusal", async () => {
    // 60 per 60 s, at most 0.5 × the average rate over 30 s: 15 in the burst window.
    const url = await gatewayWith(
      {
        SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_USER: 60,
        RATE_LIMIT_BURST_SECONDS: 30,
        RATE_LIMIT_BURST_FACTOR: 0.5,
      },
      'burst',
    );
    const user = randomUUID();
    const s = socket(url, await auth.mint({ sub: user }), '203.0.113.70');
    const subs = await many(s, 18, 'burst');
    expect(subs.filter((x) => x.events.length > 0)).toHaveLength(15);
    expect(codes(subs)).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
    const refused = subs.find((x) => x.errors)?.errors?.[0];
    expect(refused).toMatchObject({
      message: 'Subscribes per user exceed the limit of 15 per 30 s',
      extensions: { code: 'RATE_LIMITED', limit: 'subscribe_rate_per_user', max: 15, windowSeconds: 30 },
    });
    expect(refused?.extensions?.['retryAfter']).toBeGreaterThanOrEqual(1);
    // The socket goes on, and another user's burst is their own.
    const other = await many(socket(url, await auth.mint(), '203.0.113.71'), 15, 'burst-other');
    expect(codes(other)).toEqual([]);
    expect(s.closes).toEqual([]);
  });

  it('limits the new documents one user brings; documents validated before stay free', async () => {
    const url = await gatewayWith({ GATEWAY_NEW_DOCUMENTS_PER_CALLER: 2 }, 'new_docs');
    const s = socket(url, await auth.mint(), '203.0.113.60');
    const doc = (i: number): string =>
      `subscription N${i}($s: [ID!]!) { priceUpdated(symbols: $s) { symbol price } }`;
    const admitted = [subscribe(s, doc(1), { s: ['N1'] }), subscribe(s, doc(2), { s: ['N2'] })];
    await eventually(
      () => (admitted.every((x) => x.events.length > 0) ? true : undefined),
      'two new documents admitted',
    );
    const third = subscribe(s, doc(3), { s: ['N3'] });
    await eventually(() => (third.errors ? true : undefined), 'the third new document refused');
    expect(third.errors?.[0]).toMatchObject({
      extensions: { code: 'RATE_LIMITED', limit: 'new_documents', max: 2 },
    });
    const known = subscribe(s, doc(1), { s: ['N4'] });
    const theirs = subscribe(socket(url, await auth.mint(), '203.0.113.61'), doc(3), { s: ['N5'] });
    await eventually(
      () => (known.events.length > 0 && theirs.events.length > 0 ? true : undefined),
      "a known document, and another user's new one, admitted",
    );
    expect(s.closes).toEqual([]);
  });

  it('applies the depth and alias limits of HTTP with QUERY_TOO_COMPLEX, and the socket goes on', async () => {
    const url = await gatewayWith({ MAX_QUERY_DEPTH: 3, MAX_QUERY_ALIASES: 2 }, 'static');
    const s = socket(url, await auth.mint(), '203.0.113.50');
    const deep = subscribe(
      s,
      'subscription { priceUpdated(symbols: ["D"]) { next { next { next { symbol } } } } }',
      {},
    );
    const aliased = subscribe(
      s,
      'subscription { priceUpdated(symbols: ["A"]) { a: symbol b: symbol c: price } }',
      {},
    );
    await eventually(() => (deep.errors && aliased.errors ? true : undefined), 'both refused');
    expect(deep.errors?.[0]).toMatchObject({
      message: 'Query depth 5 exceeds the limit of 3',
      extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'depth', max: 3 },
    });
    expect(aliased.errors?.[0]).toMatchObject({
      message: 'Query alias count 3 exceeds the limit of 2',
      extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'aliases', max: 2 },
    });
    const fine = subscribe(s, PRICE, { s: ['FINE'] });
    await eventually(
      () => (fine.events.length > 0 ? true : undefined),
      'a valid subscription on the same socket',
    );
    expect(s.closes).toEqual([]);
    fine.dispose();
  });

  it('closes a socket whose session was revoked without a pub/sub message, at the next re-check', async () => {
    const url = await gatewayWith({ SUBSCRIPTION_SESSION_RECHECK_SECONDS: 1 }, 'recheck');
    const sid = randomUUID();
    const s = socket(url, await auth.mint({ sid }), '203.0.113.60');
    const live = subscribe(s, PRICE, { s: ['RECHECK'] });
    await eventually(() => (live.events.length > 0 ? true : undefined), 'events');
    const asked = auth.livenessCalls.get(sid) ?? 0;
    // Revoked at the sessions service only: no message on the revocation channel.
    auth.revoke(sid);
    await eventually(() => (s.closes.length > 0 ? true : undefined), 'the socket closed by the re-check');
    expect(s.closes[0]?.code).toBe(4403);
    expect(auth.livenessCalls.get(sid)).toBeGreaterThan(asked);
  });
});
