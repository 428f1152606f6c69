/**
 * The executor against a real graphql-ws subgraph on loopback: subscribers of a public stream share
 * one upstream subscription, and when the subgraph closes that upstream for its token (expired 4401,
 * revoked 4403) the stream reconnects with another subscriber's token instead of failing everyone;
 * with no other token left, subscribers get an error and the stream ends.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { composeSupergraph } from '../../test/support/harness.js';
import { FederatedSubscriptionExecutor } from './subscription.executor.js';
import { createSubscriptionMetrics, type SubscriptionMetrics } from './subscription.metrics.js';
import { SubscriptionPlanner } from './subscription.planner.js';
import type { EncodedEvent, SubscriptionSink } from './subscription.subscriber.js';

const TYPE_DEFS = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
type Query { ping: String }
type PriceTick { symbol: ID!  price: String! }
type Subscription { priceUpdated(symbols: [ID!]!): PriceTick! }
`;
const QUERY = 'subscription($s: [ID!]!) { priceUpdated(symbols: $s) { symbol price } }';

interface Upstream {
  url: string;
  /** Authorization of every connection, in order. */
  connected: string[];
  /** Sockets open now, and the most ever open at once. */
  open(): number;
  maxOpen: number;
  /** Closes the open sockets that presented `authorization`. */
  closeFor(authorization: string, code: number): void;
  stop(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const connected: string[] = [];
  const sockets = new Map<WebSocket, string>();
  const upstreamState = { maxOpen: 0 };
  const schema = buildSubgraphSchema({
    typeDefs: parse(TYPE_DEFS),
    resolvers: {
      Query: { ping: () => 'pong' },
      Subscription: {
        priceUpdated: {
          subscribe: async function* (_p: unknown, args: { symbols: string[] }) {
            // Symbols named `quiet-*` tick slowly: hundreds of such streams stay cheap.
            const pause = args.symbols.some((s) => s.startsWith('quiet-')) ? 500 : 20;
            for (let n = 1; ; n++) {
              for (const symbol of args.symbols) yield { priceUpdated: { symbol, price: String(n) } };
              await new Promise((r) => setTimeout(r, pause));
            }
          },
        },
      },
    },
  });
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const ws = useServer<Record<string, unknown> | undefined, { socket: WebSocket }>(
    {
      schema,
      onConnect: (ctx) => {
        const auth = String(ctx.connectionParams?.['authorization']);
        connected.push(auth);
        sockets.set(ctx.extra.socket, auth);
        upstreamState.maxOpen = Math.max(upstreamState.maxOpen, sockets.size);
        return true;
      },
      onClose: (ctx) => void sockets.delete(ctx.extra.socket),
    },
    wss,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    connected,
    open: () => sockets.size,
    get maxOpen() {
      return upstreamState.maxOpen;
    },
    set maxOpen(n: number) {
      upstreamState.maxOpen = n;
    },
    closeFor(authorization, code) {
      for (const [socket, auth] of sockets) if (auth === authorization) socket.close(code, 'closed by test');
    },
    async stop() {
      await ws.dispose();
      await new Promise((r) => wss.close(r));
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A sink that records what it is given. */
class RecordingSink implements SubscriptionSink {
  readonly events: { data?: { priceUpdated?: { price: string } }; errors?: unknown[] }[] = [];
  ended = false;
  onReturn: (() => void) | undefined;
  deliver(event: EncodedEvent): void {
    this.events.push(JSON.parse(event.json) as RecordingSink['events'][number]);
  }
  end(): void {
    this.ended = true;
  }
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let upstream: Upstream;
let executor: FederatedSubscriptionExecutor;
let metrics: SubscriptionMetrics;

async function activeSubscriptions(): Promise<number> {
  return (await metrics.active.get()).values[0]?.value ?? 0;
}

beforeAll(async () => {
  upstream = await startUpstream();
  metrics = createSubscriptionMetrics(new Registry());
  // Named market-data so the default policy calls priceUpdated from it public.
  const planner = new SubscriptionPlanner(
    composeSupergraph([{ name: 'market-data', url: upstream.url, typeDefs: TYPE_DEFS }]),
  );
  executor = new FederatedSubscriptionExecutor({
    planner: () => planner,
    subgraphUrl: () => upstream.url,
    logger: pino({ level: 'silent' }),
    metrics,
  });
});

afterAll(async () => {
  executor?.stop();
  await upstream?.stop();
});

/**
 * @param ttlSeconds the token's lifetime: the upstream connects with the subscriber token that lives
 *   longest, so a test that expects one token first gives it the longer life (two tokens made in
 *   different seconds would otherwise decide it)
 */
function subscribe(
  sink: RecordingSink,
  authorization: string,
  scope: string,
  symbols: string[],
  ttlSeconds = 600,
): void {
  executor.subscribe(
    {
      document: parse(QUERY),
      source: QUERY,
      operationName: undefined,
      variables: { s: symbols },
      authorization,
      expiresAt: Math.floor(Date.now() / 1000) + ttlSeconds,
      scope,
      requestId: 'test',
    },
    sink,
  );
}

describe('FederatedSubscriptionExecutor', () => {
  it.each([
    ['expired', CloseCode.Unauthorized],
    ['revoked', CloseCode.Forbidden],
  ])(
    'shares a public stream across users and reconnects it with another token when its own is refused (%s)',
    async (name, code) => {
      const [a, b] = [new RecordingSink(), new RecordingSink()];
      const [tokenA, tokenB] = [`Bearer A-${name}`, `Bearer B-${name}`];
      // A's token lives longer, so the shared upstream connects with it first.
      subscribe(a, tokenA, 'tenant-1:user-a:TRADER', ['AAPL'], 900);
      subscribe(b, tokenB, 'tenant-2:user-b:TRADER', ['AAPL'], 600);
      expect(executor.upstreamCount).toBe(1);
      await until('events', () => a.events.length > 0 && b.events.length > 0);
      expect(upstream.connected.filter((t) => t.endsWith(name))).toEqual([tokenA]);

      upstream.closeFor(tokenA, code);
      await until('reconnected', () => upstream.connected.includes(tokenB));
      const seen = b.events.length;
      await until('events after the reconnect', () => b.events.length > seen + 3);
      expect(a.ended || b.ended).toBe(false);
      expect([...a.events, ...b.events].every((e) => e.errors === undefined)).toBe(true);
      expect(executor.upstreamCount).toBe(1);
      a.onReturn?.();
      b.onReturn?.();
      expect(executor.upstreamCount).toBe(0);
    },
  );

  it('ends the stream with an error when no other token is left', async () => {
    const [a, b] = [new RecordingSink(), new RecordingSink()];
    subscribe(a, 'Bearer C', 'tenant-1:user-c:TRADER', ['MSFT']);
    subscribe(b, 'Bearer C', 'tenant-1:user-c:TRADER', ['MSFT']);
    await until('events', () => a.events.length > 0 && b.events.length > 0);
    upstream.closeFor('Bearer C', CloseCode.Unauthorized);
    await until('ended', () => a.ended && b.ended);
    for (const s of [a, b]) {
      const last = s.events.at(-1) as { errors?: { extensions?: { code?: string } }[] };
      expect(last.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    }
    expect(executor.upstreamCount).toBe(0);
    expect(await activeSubscriptions()).toBe(0);
    // A client that leaves afterwards (its socket closes) is not counted twice.
    a.onReturn?.();
    expect(await activeSubscriptions()).toBe(0);
  });

  it('multiplexes hundreds of distinct subscriptions over a bounded number of upstream sockets', async () => {
    await until('earlier sockets closed', () => upstream.open() === 0);
    upstream.maxOpen = 0;
    const sinks = Array.from({ length: 250 }, () => new RecordingSink());
    sinks.forEach((sink, i) =>
      subscribe(sink, `Bearer P${i % 7}`, `tenant-${i % 7}:user:TRADER`, [`quiet-${i}`]),
    );
    expect(executor.upstreamCount).toBe(250);
    await until('events on every stream', () => sinks.every((s) => s.events.length > 0));
    // Counted at the subgraph: at most the pool size (2 by default) for the public scope.
    expect(upstream.maxOpen).toBeGreaterThanOrEqual(1);
    expect(upstream.maxOpen).toBeLessThanOrEqual(2);
    expect(executor.upstreamConnectionCount).toBeLessThanOrEqual(2);
    expect((await metrics.upstreamSockets.get()).values[0]?.value).toBe(upstream.open());
    for (const s of sinks) s.onReturn?.();
    expect(executor.upstreamCount).toBe(0);
    await until('upstream sockets closed', () => upstream.open() === 0);
    expect((await metrics.upstreamSockets.get()).values[0]?.value).toBe(0);
  });
});
