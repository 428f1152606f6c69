/**
 * Live federated subscriptions through the gateway's graphql-ws endpoint: events from market-data
 * completed with fields from trading, shared upstream streams (public market data across users and
 * tenants, anything caller-dependent per user), and sockets refused or closed for bad, missing and
 * revoked credentials.
 */
import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createTestEnv, type TestEnv } from './support/env.js';
import { eventually, gql, startPlatform, type RunningPlatform } from './support/platform.js';

let env: TestEnv;
let platform: RunningPlatform;
let wsUrl: string;
let token: string;
let sessionId: string;
let accountId: string;
/** A user of another tenant. */
let other: { token: string; accountId: string };
const clients: Client[] = [];

const PRICE = `subscription($symbols: [ID!]!) {
  priceUpdated(symbols: $symbols) { symbol price bid ask instrument { name position { quantity } } }
}`;

interface Tick {
  symbol: string;
  price: string;
  instrument: { name: string; position: { quantity: string } | null };
}

function client(authorization: string | undefined, onClosed?: (code: number) => void): Client {
  const c = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: authorization ? { authorization } : {},
    on: { closed: (e) => onClosed?.((e as { code: number }).code) },
  });
  clients.push(c);
  return c;
}

/** Collects `n` events of one subscription, then unsubscribes. */
async function take(
  c: Client,
  n: number,
  symbols: string[],
): Promise<{ data?: { priceUpdated: Tick }; errors?: unknown }[]> {
  const out: { data?: { priceUpdated: Tick }; errors?: unknown }[] = [];
  for await (const r of c.iterate<{ priceUpdated: Tick }>({ query: PRICE, variables: { symbols } })) {
    out.push(r as { data?: { priceUpdated: Tick } });
    if (out.length >= n) break;
  }
  return out;
}

/** Keeps a subscription open, collecting its events; `dispose()` ends it. */
function open(
  c: Client,
  query: string,
  variables: Record<string, unknown>,
): { events: FormattedExecutionResult<Record<string, unknown>, unknown>[]; dispose: () => void } {
  const events: FormattedExecutionResult<Record<string, unknown>, unknown>[] = [];
  const dispose = c.subscribe(
    { query, variables },
    { next: (r) => void events.push(r), error: () => undefined, complete: () => undefined },
  );
  return { events, dispose };
}

/** Registers a user with an organization of its own; returns once the tenant is ACTIVE. */
async function registerActive(
  email: string,
  organizationName: string,
): Promise<{ token: string; sessionId: string; accountId: string }> {
  const r = await gql<{ register: { accessToken: string; session: { id: string }; tenant: { id: string } } }>(
    platform.gatewayUrl,
    'mutation($input: RegisterInput!) { register(input: $input) { accessToken session { id } tenant { id } } }',
    { input: { email, password: 'subscriptions are live', organizationName } },
  );
  expect(r.errors).toBeUndefined();
  const t = r.data!.register.accessToken;
  const tenantId = r.data!.register.tenant.id;
  await eventually(async () => {
    const s = await gql<{ tenant: { status: string } }>(
      platform.gatewayUrl,
      'query($id: ID!) { tenant(id: $id) { status } }',
      { id: tenantId },
      t,
    );
    return s.data?.tenant.status === 'ACTIVE' ? true : undefined;
  }, 'tenant ACTIVE');
  const accounts = await eventually(async () => {
    const a = await gql<{ accounts: { id: string }[] }>(platform.gatewayUrl, '{ accounts { id } }', {}, t);
    return a.data?.accounts[0] ? a.data.accounts : undefined;
  }, 'paper account');
  return { token: t, sessionId: r.data!.register.session.id, accountId: accounts[0]!.id };
}

async function metric(
  name: string,
  url = `http://127.0.0.1:${env.config.GATEWAY_PORT}/metrics`,
): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.split(' ').at(-1)) : Number.NaN;
}

beforeAll(async () => {
  env = await createTestEnv('subs_e2e', {
    // One user holds the 200 shared subscriptions below while earlier ones may still be releasing.
    SUBSCRIPTIONS_MAX_PER_USER: '400',
    MARKET_FEED_SYMBOLS: 'AAPL,MSFT,EURUSD',
    MARKET_FEED_TICKS_PER_SECOND: '60',
  });
  platform = await startPlatform(env);
  wsUrl = platform.gatewayUrl.replace(/^http/, 'ws');
  const first = await registerActive('subs@example.com', 'Live Co');
  token = first.token;
  sessionId = first.sessionId;
  accountId = first.accountId;
  const second = await registerActive('other-tenant@example.com', 'Other Co');
  other = { token: second.token, accountId: second.accountId };
});

afterAll(async () => {
  for (const c of clients) void c.dispose();
  await platform?.stop();
  await env?.cleanup();
});

describe('priceUpdated through the gateway', () => {
  it('delivers only the requested symbols, with fields from market-data and trading', async () => {
    const events = await take(client(`Bearer ${token}`), 6, ['AAPL', 'MSFT']);
    expect(events).toHaveLength(6);
    for (const e of events) {
      expect(e.errors).toBeUndefined();
      const t = e.data!.priceUpdated;
      expect(['AAPL', 'MSFT']).toContain(t.symbol);
      expect(t.price).toMatch(/^\d+(\.\d+)?$/);
      expect(t.instrument.name.length).toBeGreaterThan(0);
      // The new account is flat: trading answered (no error) with no position.
      expect(t.instrument.position).toBeNull();
    }
  });

  it('shares one upstream stream between 200 identical subscriptions', async () => {
    const before = await metric('gateway_subscription_upstreams');
    const socketsBefore = await metric('gateway_subscription_sockets');
    // Four sockets: one socket holds at most SUBSCRIPTIONS_MAX_PER_SOCKET (50) live subscriptions.
    const sockets = Array.from({ length: 4 }, () => client(`Bearer ${token}`));
    // Kept open until all 200 are active: each subscribe now waits for its limits in Redis, so
    // subscriptions that ended after a few events could leave before the last ones arrive.
    const subs = Array.from({ length: 200 }, (_, i) => open(sockets[i % 4]!, PRICE, { symbols: ['EURUSD'] }));
    await eventually(
      async () => ((await metric('gateway_subscriptions_active')) >= 200 ? true : undefined),
      '200 active',
    );
    expect(await metric('gateway_subscription_upstreams')).toBe(before + 1);
    // At least the four sockets above (an earlier test's idle lazy socket may be closing meanwhile).
    expect(await metric('gateway_subscription_sockets')).toBeGreaterThanOrEqual(4);
    await eventually(
      () => Promise.resolve(subs.every((x) => x.events.length >= 2) ? true : undefined),
      'two events on every subscription',
    );
    for (const x of subs) {
      x.dispose();
      expect(x.events.every((e) => (e.data?.['priceUpdated'] as Tick | undefined)?.symbol === 'EURUSD')).toBe(
        true,
      );
    }
    await eventually(
      async () => ((await metric('gateway_subscription_upstreams')) === before ? true : undefined),
      'the shared upstream closed',
    );
    // Lazy clients close their sockets once idle; the gauge comes down with them.
    await eventually(
      async () => ((await metric('gateway_subscription_sockets')) <= socketsBefore ? true : undefined),
      'the four sockets closed',
    );
  });

  it('shares public market data across users and tenants, never a tenant-scoped subscription', async () => {
    const upstreams = await metric('gateway_subscription_upstreams');
    const active = await metric('gateway_subscriptions_active');
    const mine = client(`Bearer ${token}`);
    const theirs = client(`Bearer ${other.token}`);
    // Public: the same document and variables from two tenants share one upstream stream.
    const PUBLIC =
      'subscription($s: [ID!]!) { priceUpdated(symbols: $s) { symbol price instrument { name } } }';
    const a = open(mine, PUBLIC, { s: ['MSFT'] });
    const b = open(theirs, PUBLIC, { s: ['MSFT'] });
    await eventually(
      () => Promise.resolve(a.events.length > 0 && b.events.length > 0 ? true : undefined),
      'public events',
    );
    expect(await metric('gateway_subscription_upstreams')).toBe(upstreams + 1);
    for (const ev of [...a.events, ...b.events]) {
      expect(ev.errors).toBeUndefined();
      expect((ev.data?.['priceUpdated'] as Tick).symbol).toBe('MSFT');
    }
    // Caller-dependent: the position comes from trading for the caller, so each user has a stream.
    const c = open(mine, PRICE, { symbols: ['MSFT'] });
    const d = open(theirs, PRICE, { symbols: ['MSFT'] });
    // Tenant-scoped: never shared across tenants.
    const ORDERS = 'subscription($a: ID!) { orderUpdated(accountId: $a) { id status } }';
    const ordersMine = open(mine, ORDERS, { a: accountId });
    const ordersTheirs = open(theirs, ORDERS, { a: other.accountId });
    await eventually(
      async () => ((await metric('gateway_subscriptions_active')) >= active + 6 ? true : undefined),
      '6 active',
    );
    expect(await metric('gateway_subscription_upstreams')).toBe(upstreams + 5);
    await eventually(
      () => Promise.resolve(c.events.length > 0 && d.events.length > 0 ? true : undefined),
      'per-user events',
    );
    for (const sub of [a, b, c, d, ordersMine, ordersTheirs]) sub.dispose();
    await eventually(
      async () => ((await metric('gateway_subscription_upstreams')) === upstreams ? true : undefined),
      'upstreams closed',
    );
  });

  it('multiplexes distinct subscriptions over a bounded number of sockets to market-data', async () => {
    const marketData = `http://127.0.0.1:${env.config.MARKET_DATA_PORT}/metrics`;
    const before = await metric('gateway_subscription_upstreams');
    const atMarketData = await metric('graphql_ws_connections', marketData);
    // 160 distinct documents from two users of two tenants, over four sockets.
    const sockets = [token, token, other.token, other.token].map((t) => client(`Bearer ${t}`));
    const subs = Array.from({ length: 160 }, (_, i) =>
      open(
        sockets[i % 4]!,
        `subscription($s: [ID!]!) { priceUpdated(symbols: $s) { symbol p${i}: price } }`,
        {
          s: ['AAPL', 'MSFT', 'EURUSD'].slice(i % 3),
        },
      ),
    );
    await eventually(
      () => Promise.resolve(subs.every((x) => x.events.length > 0) ? true : undefined),
      'events on every subscription',
    );
    expect(await metric('gateway_subscription_upstreams')).toBe(before + 160);
    // Counted at market-data: public streams share at most SUBSCRIPTIONS_UPSTREAM_SOCKETS (2) sockets.
    expect(await metric('graphql_ws_connections', marketData)).toBeLessThanOrEqual(atMarketData + 2);
    for (const x of subs) x.dispose();
    await eventually(
      async () => ((await metric('gateway_subscription_upstreams')) === before ? true : undefined),
      'upstreams closed',
    );
  });

  it('keeps a shared public stream flowing when the session that opened it is revoked', async () => {
    const login = await gql<{ login: { accessToken: string; session: { id: string } } }>(
      platform.gatewayUrl,
      'mutation($input: LoginInput!) { login(input: $input) { accessToken session { id } } }',
      { input: { email: 'subs@example.com', password: 'subscriptions are live' } },
    );
    const opener = login.data!.login;
    const TICKS = 'subscription($s: [ID!]!) { priceUpdated(symbols: $s) { symbol timestamp } }';
    const codes: number[] = [];
    const first = open(
      client(`Bearer ${opener.accessToken}`, (code) => codes.push(code)),
      TICKS,
      { s: ['EURUSD'] },
    );
    await eventually(() => Promise.resolve(first.events.length > 0 ? true : undefined), 'opener events');
    const upstreams = await metric('gateway_subscription_upstreams');
    const second = open(client(`Bearer ${other.token}`), TICKS, { s: ['EURUSD'] });
    await eventually(() => Promise.resolve(second.events.length > 0 ? true : undefined), 'joiner events');
    expect(await metric('gateway_subscription_upstreams')).toBe(upstreams);
    const revoked = await gql<{ revokeSession: boolean }>(
      platform.gatewayUrl,
      'mutation($id: ID!) { revokeSession(id: $id) }',
      { id: opener.session.id },
      token,
    );
    expect(revoked.data?.revokeSession).toBe(true);
    await eventually(() => Promise.resolve(codes.length > 0 ? true : undefined), 'opener closed');
    expect(codes[0]).toBe(4403);
    // The stream reconnects upstream with the remaining subscriber's token; its events go on.
    const seen = second.events.length;
    await eventually(
      () => Promise.resolve(second.events.length >= seen + 5 ? true : undefined),
      'events after the revocation',
    );
    expect(second.events.every((e) => e.errors === undefined)).toBe(true);
    second.dispose();
  });

  it('refuses sockets without a token or with a bad one', async () => {
    for (const auth of [undefined, 'Bearer not.a.token', `Bearer ${token.slice(0, -4)}AAAA`]) {
      const codes: number[] = [];
      const c = client(auth, (code) => codes.push(code));
      await expect(take(c, 1, ['AAPL'])).rejects.toBeDefined();
      expect(codes[0]).toBe(4403);
    }
  });

  it('closes a socket whose session is revoked', async () => {
    const login = await gql<{ login: { accessToken: string; session: { id: string } } }>(
      platform.gatewayUrl,
      'mutation($input: LoginInput!) { login(input: $input) { accessToken session { id } } }',
      { input: { email: 'subs@example.com', password: 'subscriptions are live' } },
    );
    const other = login.data!.login;
    expect(other.session.id).not.toBe(sessionId);
    const codes: number[] = [];
    const c = client(`Bearer ${other.accessToken}`, (code) => codes.push(code));
    const running = take(c, 1_000_000, ['AAPL']).catch(() => undefined);
    await take(client(`Bearer ${other.accessToken}`), 1, ['AAPL']);
    const revoked = await gql<{ revokeSession: boolean }>(
      platform.gatewayUrl,
      'mutation($id: ID!) { revokeSession(id: $id) }',
      { id: other.session.id },
      token,
    );
    expect(revoked.data?.revokeSession).toBe(true);
    await eventually(() => Promise.resolve(codes.length > 0 ? true : undefined), 'socket closed', 1000, 20);
    expect(codes[0]).toBe(4403);
    await running;
  });

  it('answers an unknown symbol with BAD_USER_INPUT', async () => {
    const events = await take(client(`Bearer ${token}`), 1, ['NOPE']);
    const errors = events[0]?.errors as { extensions?: { code?: string } }[] | undefined;
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
