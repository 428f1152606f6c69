import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema } from 'graphql';
import { CloseCode, GRAPHQL_TRANSPORT_WS_PROTOCOL } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { unauthenticated, unavailable } from './errors.js';
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
