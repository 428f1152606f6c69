/**
 * The gateway's HTTP client to subgraphs against real loopback servers that misbehave as deployed
 * subgraphs can: close idle keep-alive sockets (emulated at the worst moment: the next request on
 * the socket is dropped unanswered), answer nothing, stall a body, refuse or drop connections.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSubgraphHttpClient,
  DEDUPE_HEADER,
  type SubgraphFetcherOptions,
  type SubgraphHttpClient,
} from '../src/subgraph.fetcher.js';

interface Upstream {
  url: string;
  /** Connections accepted so far. */
  connections: number;
  /** Requests received (headers and body), dropped ones included. */
  received: { headers: IncomingHttpHeaders; body: string }[];
  stop(): Promise<void>;
}

interface UpstreamOptions {
  /**
   * Emulates a server that closes keep-alive sockets after this long idle, at the worst moment: a
   * request arriving on a socket idle for longer is dropped without an answer (what a client sees
   * when its request crosses the server's close).
   */
  closesIdleAfterMs?: number;
  /** Announced as `Keep-Alive: timeout=<s>` on every answer. */
  announceKeepAliveS?: number;
}

const opened: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.stop();
});

/** An HTTP server on a free loopback port; `answer` runs for requests that are not dropped. */
async function startUpstream(
  answer: (req: IncomingMessage, res: ServerResponse, body: string) => void,
  opts: UpstreamOptions = {},
): Promise<Upstream> {
  const lastAnswer = new WeakMap<Socket, number>();
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      up.received.push({ headers: req.headers, body });
      const last = lastAnswer.get(req.socket);
      if (opts.closesIdleAfterMs !== undefined && last !== undefined) {
        if (Date.now() - last > opts.closesIdleAfterMs) {
          req.socket.destroy();
          return;
        }
      }
      // Spelled out so that Node adds no Keep-Alive header of its own.
      res.setHeader('connection', 'keep-alive');
      if (opts.announceKeepAliveS !== undefined) {
        res.setHeader('keep-alive', `timeout=${opts.announceKeepAliveS}`);
      }
      res.once('finish', () => lastAnswer.set(req.socket, Date.now()));
      answer(req, res, body);
    });
  });
  // The emulation above decides when a socket is "closed"; Node's own idle timer stays out of it.
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => {
    up.connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const up: Upstream = {
    url: `http://127.0.0.1:${port}/graphql`,
    connections: 0,
    received: [],
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  opened.push(up);
  return up;
}

const json = (res: ServerResponse, body: unknown): void => {
  const text = JSON.stringify(body);
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
};

function client(opts: Partial<SubgraphFetcherOptions> = {}): SubgraphHttpClient {
  const c = createSubgraphHttpClient({ timeoutMs: 10_000, dedupe: true, ...opts });
  opened.push({ stop: () => Promise.resolve(c.close()) });
  return c;
}

const post = (c: SubgraphHttpClient, url: string, headers: Record<string, string> = {}, body = '{}') =>
  c.fetcher(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('requests and answers', () => {
  it('sends the given headers and body (not the dedupe marker) and returns status, headers and body', async () => {
    const up = await startUpstream((_req, res) => {
      res.setHeader('cache-control', 'private, max-age=5');
      res.statusCode = 203;
      json(res, { data: { héllo: 'wörld' } });
    });
    const c = client();
    const body = JSON.stringify({ query: '{ héllo }' });
    const res = await post(
      c,
      up.url,
      { authorization: 'Bearer t', 'x-request-id': 'r-1', [DEDUPE_HEADER]: '1' },
      body,
    );
    expect(res.status).toBe(203);
    expect(res.ok).toBe(true);
    expect(res.headers.get('Cache-Control')).toBe('private, max-age=5');
    expect(await res.json()).toEqual({ data: { héllo: 'wörld' } });
    expect(await res.text()).toBe('{"data":{"héllo":"wörld"}}');
    const [got] = up.received;
    expect(got?.body).toBe(body);
    expect(got?.headers).toMatchObject({
      authorization: 'Bearer t',
      'x-request-id': 'r-1',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    });
    expect(got?.headers[DEDUPE_HEADER]).toBeUndefined();
  });

  it('shares one request between identical concurrent fetches marked shareable, per authorization', async () => {
    const up = await startUpstream((req, res) => {
      setTimeout(() => json(res, { data: { auth: req.headers.authorization } }), 100);
    });
    const c = client();
    const shared = { [DEDUPE_HEADER]: '1', authorization: 'Bearer a' };
    const answers = await Promise.all([
      post(c, up.url, shared),
      post(c, up.url, shared),
      post(c, up.url, { ...shared, authorization: 'Bearer b' }),
    ]);
    expect(up.received).toHaveLength(2);
    const [first, second, other] = await Promise.all(answers.map((a) => a.json()));
    expect(first).toEqual({ data: { auth: 'Bearer a' } });
    expect(second).toEqual(first);
    expect(other).toEqual({ data: { auth: 'Bearer b' } });
  });
});

describe('idle keep-alive sockets', () => {
  it('opens a new connection instead of writing on a socket idle past idleTimeoutMs', async () => {
    const up = await startUpstream((_req, res) => json(res, { data: {} }), { closesIdleAfterMs: 600 });
    const c = client({ idleTimeoutMs: 300 });
    expect((await post(c, up.url)).status).toBe(200);
    await sleep(900);
    expect((await post(c, up.url)).status).toBe(200);
    expect(up.connections).toBe(2);
  });

  it('fails on a socket the subgraph closed (the case the idle timeout avoids)', async () => {
    const up = await startUpstream((_req, res) => json(res, { data: {} }), { closesIdleAfterMs: 300 });
    const c = client({ idleTimeoutMs: 5_000 });
    expect((await post(c, up.url)).status).toBe(200);
    await sleep(600);
    await expect(post(c, up.url)).rejects.toThrow();
    expect(up.connections).toBe(1);
  });

  it('honours a shorter Keep-Alive timeout announced by the subgraph', async () => {
    // Node's servers announce theirs (timeout=5 by default); a subgraph configured shorter than the
    // gateway's idle timeout must not cost an error after each idle gap.
    const up = await startUpstream((_req, res) => json(res, { data: {} }), {
      closesIdleAfterMs: 2_000,
      announceKeepAliveS: 2,
    });
    const c = client();
    expect((await post(c, up.url)).status).toBe(200);
    await sleep(2_500);
    expect((await post(c, up.url)).status).toBe(200);
    expect(up.connections).toBe(2);
  });

  it('reuses a connection within the idle timeout', async () => {
    const up = await startUpstream((_req, res) => json(res, { data: {} }));
    const c = client();
    for (let i = 0; i < 5; i++) expect((await post(c, up.url)).status).toBe(200);
    // A second one may open: the pool learns that the first is free a microtask after its answer.
    expect(up.connections).toBeLessThanOrEqual(2);
  });
});

describe('timeouts and transport errors', () => {
  it('times out a subgraph that never answers', async () => {
    const up = await startUpstream(() => undefined);
    const c = client({ timeoutMs: 200 });
    await expect(post(c, up.url)).rejects.toThrow('subgraph request timed out after 200 ms');
  });

  it('times out a body that stalls after the headers', async () => {
    const up = await startUpstream((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('content-length', '100');
      res.write('{"data":');
    });
    const c = client({ timeoutMs: 200 });
    await expect(post(c, up.url)).rejects.toThrow('subgraph request timed out after 200 ms');
  });

  it('rejects when the subgraph refuses the connection or drops it mid-answer', async () => {
    const refused = await startUpstream(() => undefined);
    await refused.stop();
    const c = client();
    await expect(post(c, refused.url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const dropping = await startUpstream((req, res) => {
      res.setHeader('content-length', '100');
      res.write('{"data":');
      setTimeout(() => req.socket.destroy(), 20);
    });
    await expect(post(c, dropping.url)).rejects.toThrow();
  });
});
