import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { buildSchema } from 'graphql';
import { CloseCode, GRAPHQL_TRANSPORT_WS_PROTOCOL } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import type { AuthClaims } from './auth.js';
import { unauthenticated, unavailable } from './errors.js';
import { countWrites } from '../test/support/socket-writes.js';
import { createLogger } from './logger.js';
import { attachGraphqlWs, TRY_AGAIN_LATER, type GraphqlWsServer } from './ws-server.js';

// A verifier that answers what the header names: a token it could not check (keys or sessions
// unavailable) and a bad one must close the socket with different codes.
const verifier = {
  verifyHeader: (header: string | undefined) =>
    Promise.reject(
      header === 'Bearer unchecked'
        ? unavailable('Could not confirm the session; retry')
        : unauthenticated('Invalid access token'),
    ),
};

let server: http.Server;
let ws: GraphqlWsServer;
let url = '';

beforeAll(async () => {
  server = http.createServer();
  ws = attachGraphqlWs({
    server,
    path: '/graphql',
    schema: buildSchema('type Query { x: Int }'),
    verifier,
    logger: createLogger({ LOG_LEVEL: 'silent' }, 'test'),
    context: (base) => base,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});

afterAll(async () => {
  await ws.dispose();
  await new Promise((resolve) => server.close(resolve));
});

/** The close code the server answers a `connection_init` carrying `authorization` with. */
function closeCodeFor(authorization: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, GRAPHQL_TRANSPORT_WS_PROTOCOL);
    socket.on('open', () =>
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } })),
    );
    socket.on('close', (code) => resolve(code));
    socket.on('error', reject);
  });
}

describe('attachGraphqlWs', () => {
  it('closes with 1013 Try Again Later when the token could not be checked, 4403 when it is bad', async () => {
    expect(await closeCodeFor('Bearer unchecked')).toBe(TRY_AGAIN_LATER);
    expect(await closeCodeFor('Bearer bad')).toBe(CloseCode.Forbidden);
  });
});

describe('frames of one run of callbacks', () => {
  it('leave a socket in one write: one event answering five subscriptions is one system call', async () => {
    // A subscription field whose events the test pushes to every open subscription at once, as one
    // tick of the feed answers every upstream subscription on its symbol.
    const schema = buildSchema('type Query { x: Int } type Subscription { ticked: String }');
    const queues = new Set<(value: string) => void>();
    schema.getSubscriptionType()!.getFields()['ticked']!.subscribe = () => {
      const waiting: ((r: IteratorResult<{ ticked: string }>) => void)[] = [];
      const push = (value: string): void => waiting.shift()?.({ value: { ticked: value }, done: false });
      queues.add(push);
      return {
        next: () => new Promise((resolve) => waiting.push(resolve)),
        return: () => {
          queues.delete(push);
          return Promise.resolve({ value: undefined, done: true });
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      };
    };
    const claims: AuthClaims = {
      userId: 'u',
      sessionId: 's',
      tenantId: 't',
      role: 'TRADER',
      platformAdmin: false,
      email: 'u@example.com',
      expiresAt: Math.floor(Date.now() / 1000) + 600,
    };
    const own = http.createServer();
    // The system-call-level writes of the server's side of the (one) connection.
    let writes = (): number => 0;
    own.on('connection', (tcp: Socket) => {
      writes = countWrites(tcp);
    });
    const wsServer = attachGraphqlWs({
      server: own,
      path: '/graphql',
      schema,
      verifier: { verifyHeader: () => Promise.resolve(claims) },
      logger: createLogger({ LOG_LEVEL: 'silent' }, 'test'),
      context: (base) => base,
    });
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
    const socket = new WebSocket(
      `ws://127.0.0.1:${(own.address() as AddressInfo).port}/graphql`,
      GRAPHQL_TRANSPORT_WS_PROTOCOL,
    );
    const frames: { id?: string; type: string; payload?: unknown }[] = [];
    socket.on('message', (m: Buffer) => frames.push(JSON.parse(m.toString()) as (typeof frames)[number]));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer ok' } }));
    await vi.waitFor(() => expect(frames.map((f) => f.type)).toContain('connection_ack'));
    const ids = ['1', '2', '3', '4', '5'];
    for (const id of ids)
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: 'subscription { ticked }' } }));
    await vi.waitFor(() => expect(queues.size).toBe(ids.length));
    // Let the subscriptions reach their first `next()` before the event.
    await new Promise((resolve) => setImmediate(resolve));

    const before = writes();
    for (const push of queues) push('AAPL 1.00');
    await vi.waitFor(() => expect(frames.filter((f) => f.type === 'next')).toHaveLength(ids.length));
    expect(writes() - before).toBe(1);
    expect(frames.filter((f) => f.type === 'next').map((f) => f.id)).toEqual(ids);
    expect(frames.find((f) => f.type === 'next')?.payload).toEqual({ data: { ticked: 'AAPL 1.00' } });

    socket.close();
    await wsServer.dispose();
    await new Promise((resolve) => own.close(resolve));
  });
});
