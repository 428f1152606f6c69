/**
 * lib/http's GraphQL fast path (plain JSON POSTs to `/graphql` served without Express's router and
 * body parser) answers as the Express route does: the same refusals for bodies express.json() refuses,
 * Express's request API (trust proxy included) in the context, the same metrics; and everything
 * else still goes through Express.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, type GraphQLSchema } from 'graphql';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forbidden } from './errors.js';
import { createHttpService, isPlainGraphQLPost, type HttpService } from './http.js';
import { createMetrics } from './metrics.js';

interface Ctx {
  ip: string | undefined;
  fromExpress: boolean;
}

let service: HttpService;
let base: string;
let schema: GraphQLSchema;

beforeAll(async () => {
  // Built like the subgraphs build theirs (graphql-js objects must come from Apollo's own copy).
  schema = buildSubgraphSchema({
    typeDefs: parse('type Query { hello: String ip: String express: String denied: String }'),
    resolvers: {
      Query: {
        hello: () => 'world',
        ip: (_p: unknown, _a: unknown, ctx: unknown) => (ctx as Ctx).ip,
        express: (_p: unknown, _a: unknown, ctx: unknown) => String((ctx as Ctx).fromExpress),
        denied: () => {
          throw forbidden();
        },
      },
    },
  });
  service = createHttpService<Ctx>({
    name: 'http-test',
    config: { BIND_HOST: '127.0.0.1', introspection: false },
    port: 0,
    logger: pino({ level: 'silent' }),
    metrics: createMetrics('http-test'),
    readiness: {},
    trustProxy: ['loopback'],
    routes: (app) => {
      app.post('/echo', (req, res) => {
        res.json({ body: req.body as unknown });
      });
    },
    graphql: {
      schema,
      context: (req) => Promise.resolve({ ip: req.ip, fromExpress: typeof req.accepts === 'function' }),
    },
  });
  ({ url: base } = await service.start());
});

afterAll(async () => {
  await service?.stop();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request (fetch would normalize what these tests vary). */
function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
  chunked = false,
  root = base,
): Promise<Answer> {
  const url = new URL(path, root);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        headers:
          body === undefined || chunked
            ? headers
            : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    if (chunked && body !== undefined) {
      req.write(body.slice(0, 3));
      req.end(body.slice(3));
    } else req.end(body);
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };
const MALFORMED = JSON.stringify({ error: { code: 'BAD_USER_INPUT', message: 'Malformed request' } });

describe('isPlainGraphQLPost', () => {
  const req = (method: string, url: string, headers: Record<string, string>): http.IncomingMessage =>
    ({ method, url, headers }) as unknown as http.IncomingMessage;

  it('takes JSON POSTs of a known length to exactly /graphql', () => {
    expect(isPlainGraphQLPost(req('POST', '/graphql', { ...JSON_TYPE, 'content-length': '20' }))).toBe(true);
    expect(
      isPlainGraphQLPost(
        req('POST', '/graphql?x=1', {
          'content-type': 'Application/JSON; charset=UTF-8',
          'content-length': '2',
        }),
      ),
    ).toBe(true);
  });

  it('leaves everything else to Express', () => {
    const ok = { ...JSON_TYPE, 'content-length': '20' };
    expect(isPlainGraphQLPost(req('GET', '/graphql', ok))).toBe(false);
    expect(isPlainGraphQLPost(req('POST', '/graphql/', ok))).toBe(false);
    expect(isPlainGraphQLPost(req('POST', '/graphqlx', ok))).toBe(false);
    expect(isPlainGraphQLPost(req('POST', '/graphql', JSON_TYPE))).toBe(false);
    expect(isPlainGraphQLPost(req('POST', '/graphql', { ...ok, 'content-length': '0' }))).toBe(false);
    expect(
      isPlainGraphQLPost(req('POST', '/graphql', { ...ok, 'content-length': String(2 ** 20 + 1) })),
    ).toBe(false);
    expect(isPlainGraphQLPost(req('POST', '/graphql', { ...ok, 'content-encoding': 'gzip' }))).toBe(false);
    expect(isPlainGraphQLPost(req('POST', '/graphql', { ...ok, 'content-type': 'text/plain' }))).toBe(false);
    expect(
      isPlainGraphQLPost(
        req('POST', '/graphql', { ...ok, 'content-type': 'application/json; charset=latin1' }),
      ),
    ).toBe(false);
  });
});

describe('GraphQL over the fast path', () => {
  it('serves a query with the Express request API and trust proxy in the context', async () => {
    const res = await send(
      'POST',
      '/graphql',
      { ...JSON_TYPE, 'x-forwarded-for': '203.0.113.9, 10.0.0.1' },
      JSON.stringify({ query: '{ hello ip express }' }),
    );
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ data: { hello: 'world', ip: '10.0.0.1', express: 'true' } });
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.body)));
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('keeps Apollo refusals and error codes', async () => {
    const denied = await send('POST', '/graphql', JSON_TYPE, JSON.stringify({ query: '{ denied }' }));
    expect(JSON.parse(denied.body)).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
    const batch = await send('POST', '/graphql', JSON_TYPE, JSON.stringify([{ query: '{ hello }' }]));
    expect(batch.status).toBe(400);
    const empty = await send('POST', '/graphql', JSON_TYPE, '{}');
    expect(empty.status).toBe(400);
    expect(empty.body).toMatch(/POST body missing/);
  });

  it.each([
    ['malformed JSON', '{"query": '],
    ['a JSON string', '"{ hello }"'],
    ['whitespace only', '   '],
  ])('refuses %s as express.json() does', async (_name, body) => {
    const res = await send('POST', '/graphql', JSON_TYPE, body);
    expect(res.status).toBe(400);
    expect(res.body).toBe(MALFORMED);
  });

  it('ignores a leading byte order mark; a body of only one is an empty object', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const res = await send(
      'POST',
      '/graphql',
      JSON_TYPE,
      Buffer.concat([bom, Buffer.from(JSON.stringify({ query: '{ hello }' }))]),
    );
    expect(JSON.parse(res.body)).toEqual({ data: { hello: 'world' } });
    expect((await send('POST', '/graphql', JSON_TYPE, bom)).body).toMatch(/POST body missing/);
  });

  it('answers the same through the Express route (chunked, gzip, charset spellings, GET)', async () => {
    const query = JSON.stringify({ query: '{ hello }' });
    const expected = { data: { hello: 'world' } };
    expect(JSON.parse((await send('POST', '/graphql', JSON_TYPE, query, true)).body)).toEqual(expected);
    const gz = await send('POST', '/graphql', { ...JSON_TYPE, 'content-encoding': 'gzip' }, gzipSync(query));
    expect(JSON.parse(gz.body)).toEqual(expected);
    const latin1 = await send(
      'POST',
      '/graphql',
      { 'content-type': 'application/json; charset=latin1' },
      query,
    );
    expect(latin1.status).toBe(415);
    expect(latin1.body).toBe(MALFORMED);
    const get = await send('GET', `/graphql?query=${encodeURIComponent('{ hello }')}`, {
      'apollo-require-preflight': 'true',
    });
    expect(JSON.parse(get.body)).toEqual(expected);
    const tooBig = await send('POST', '/graphql', JSON_TYPE, JSON.stringify({ query: 'x'.repeat(2 ** 20) }));
    expect(tooBig.status).toBe(413);
    expect(tooBig.body).toBe(MALFORMED);
  });

  it('still refuses simple requests (CSRF) and serves the other routes', async () => {
    const csrf = await send('POST', '/graphql', { 'content-type': 'text/plain' }, '{"query":"{ hello }"}');
    expect(csrf.status).toBe(400);
    expect(csrf.body).toMatch(/CSRF/);
    const echo = await send('POST', '/echo', JSON_TYPE, '{"a":1}');
    expect(JSON.parse(echo.body)).toEqual({ body: { a: 1 } });
    expect((await send('GET', '/health', {})).status).toBe(200);
  });

  it('records fast-path requests in the HTTP metrics under the /graphql route', async () => {
    const metrics = await send('GET', '/metrics', {});
    expect(metrics.body).toMatch(
      /http_request_duration_seconds_count\{[^}]*method="POST",route="\/graphql",status="200"[^}]*\} [1-9]/,
    );
    expect(metrics.body).toMatch(
      /http_request_duration_seconds_count\{[^}]*method="POST",route="\/graphql",status="400"[^}]*\} [1-9]/,
    );
  });
});

describe('WebSocket upgrades', () => {
  it('carry the Express request API too, so req.ip applies trust proxy to them (gateway client IP)', async () => {
    const seen = new Promise<string | undefined>((resolve) => {
      service.server.once('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
        resolve((req as unknown as { ip?: string }).ip);
        socket.destroy();
      });
    });
    const req = http.request(new URL('/upgrade-probe', base), {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'x-forwarded-for': '203.0.113.9, 10.0.0.1' },
    });
    req.on('error', () => undefined);
    req.end();
    expect(await seen).toBe('10.0.0.1');
  });
});

describe('graphqlIngress', () => {
  let guarded: HttpService;
  let root: string;
  const KEY = { 'x-test-ingress': 'yes' };

  beforeAll(async () => {
    guarded = createHttpService<Ctx>({
      name: 'http-ingress-test',
      config: { BIND_HOST: '127.0.0.1', introspection: false },
      port: 0,
      logger: pino({ level: 'silent' }),
      metrics: createMetrics('http-ingress-test'),
      readiness: {},
      graphqlIngress: (req) => req.headers['x-test-ingress'] === 'yes',
      graphql: { schema, context: (req) => Promise.resolve({ ip: req.ip, fromExpress: true }) },
    });
    ({ url: root } = await guarded.start());
  });

  afterAll(async () => {
    await guarded?.stop();
  });

  it('refuses /graphql without the credential with 403 FORBIDDEN on the fast path and the Express route', async () => {
    const query = JSON.stringify({ query: '{ hello }' });
    const refusals = [
      await send('POST', '/graphql', JSON_TYPE, query, false, root),
      await send('POST', '/graphql', JSON_TYPE, query, true, root),
      await send(
        'GET',
        `/graphql?query=${encodeURIComponent('{ hello }')}`,
        { 'apollo-require-preflight': 'true' },
        undefined,
        false,
        root,
      ),
      await send('POST', '/GraphQL/', JSON_TYPE, query, false, root),
      // An introspection query learns nothing either.
      await send(
        'POST',
        '/graphql',
        JSON_TYPE,
        JSON.stringify({ query: '{ __schema { types { name } } }' }),
        false,
        root,
      ),
    ];
    for (const r of refusals) {
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body)).toEqual({
        errors: [
          { message: expect.stringMatching(/Forbidden/) as unknown, extensions: { code: 'FORBIDDEN' } },
        ],
      });
    }
    expect(
      JSON.parse((await send('POST', '/graphql', { ...JSON_TYPE, ...KEY }, query, false, root)).body),
    ).toEqual({
      data: { hello: 'world' },
    });
    expect(
      JSON.parse((await send('POST', '/graphql', { ...JSON_TYPE, ...KEY }, query, true, root)).body),
    ).toEqual({
      data: { hello: 'world' },
    });
  });

  it('keeps /health, /ready and /metrics open', async () => {
    for (const p of ['/health', '/ready', '/metrics'])
      expect((await send('GET', p, {}, undefined, false, root)).status).toBe(200);
  });
});
