/**
 * The gateway's request path against a real (test) subgraph, real Redis, a JWKS server and a
 * sessions liveness endpoint: header forwarding, token checks, revocation through Redis pub/sub,
 * operation limits, CSRF, CORS, APQ, error masking, GraphQL-over-HTTP details, probes and dedupe.
 */
import { createHash } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { getIntrospectionQuery } from 'graphql';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config.js';
import { INGRESS_HEADER, ingressHeaders } from '../../lib/ingress.js';
import { channels } from '../../contracts/redis-names.js';
import { createGateway, type GatewayService } from '../src/gateway.js';
import {
  post,
  pollUntil,
  startGatewayBed,
  type AuthFixtures,
  type EchoSubgraph,
  type GatewayBed,
} from './support/harness.js';

let bed: GatewayBed;
let echo: EchoSubgraph;
let auth: AuthFixtures;
let config: Config;
let gateway: GatewayService;
let base: string;
let url: string;
let redis: Redis;

beforeAll(async () => {
  bed = await startGatewayBed('gateway');
  ({ echo, auth } = bed.world);
  config = {
    ...bed.world.config,
    MAX_QUERY_DEPTH: 5,
    MAX_QUERY_ALIASES: 5,
    MAX_QUERY_BYTES: 2000,
    CORS_ORIGINS: ['http://app.example.com'],
  };
  ({ gateway, url: base } = await bed.gateway(config));
  url = `${base}/graphql`;
  redis = new Redis(config.REDIS_URL);
});

afterAll(async () => {
  redis?.disconnect();
  await bed?.stop();
});

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describe('header forwarding', () => {
  it('sends only the verified authorization, the request id, the client IP and user-agent to subgraphs', async () => {
    const token = await auth.mint();
    const res = await post(
      url,
      { query: '{ headers }' },
      {
        ...bearer(token),
        'x-request-id': 'req-abc.123',
        cookie: 'session=secret',
        'x-forwarded-for': '203.0.113.9, 10.0.0.1',
        'x-custom': 'nope',
        'x-service-token': config.SERVICE_TOKEN,
        'user-agent': 'test-agent',
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-abc.123');
    const seen = JSON.parse(res.body.data?.['headers'] as string) as Record<string, string>;
    expect(seen['authorization']).toBe(`Bearer ${token}`);
    expect(seen['x-request-id']).toBe('req-abc.123');
    // No proxy is trusted by default (TRUSTED_PROXIES empty): the client's X-Forwarded-For is ignored
    // and the subgraph gets the socket peer.
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['user-agent']).toBe('test-agent');
    // The gateway's ingress key, never the raw service token the client tried to pass along.
    expect(seen[INGRESS_HEADER]).toBe(ingressHeaders(config)[INGRESS_HEADER]);
    expect(Object.keys(seen).sort()).toEqual(
      [
        'authorization',
        'connection',
        'content-length',
        'content-type',
        'host',
        INGRESS_HEADER,
        'user-agent',
        'x-forwarded-for',
        'x-request-id',
      ].sort(),
    );
  });

  it('takes the client IP from X-Forwarded-For only behind a trusted proxy', async () => {
    const trusting = createGateway({ ...config, TRUSTED_PROXIES: ['127.0.0.1/32'] });
    const { url: trustingBase } = await trusting.start();
    try {
      const res = await post(
        `${trustingBase}/graphql`,
        { query: '{ headers }' },
        {
          'x-forwarded-for': '203.0.113.9, 10.0.0.1',
        },
      );
      const seen = JSON.parse(res.body.data?.['headers'] as string) as Record<string, string>;
      // The first untrusted address from the right, and only that one address.
      expect(seen['x-forwarded-for']).toBe('10.0.0.1');
    } finally {
      await trusting.stop();
    }
  });

  it('sends the ingress key on health checks of subgraphs too (/ready)', async () => {
    const before = echo.received.length;
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    const probes = echo.received.slice(before);
    expect(probes.length).toBeGreaterThan(0);
    for (const h of probes) expect(h[INGRESS_HEADER]).toBe(ingressHeaders(config)[INGRESS_HEADER]);
  });

  it('generates a request id when none (or a malformed one) is given, and sends no authorization for anonymous calls', async () => {
    const res = await post(url, { query: '{ headers }' }, { 'x-request-id': 'bad id with spaces' });
    const seen = JSON.parse(res.body.data?.['headers'] as string) as Record<string, string>;
    expect(seen['authorization']).toBeUndefined();
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-request-id')).toBe(seen['x-request-id']);
  });
});

describe('token verification', () => {
  const tamper = (token: string): string => {
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    claims['role'] = 'OWNER';
    claims['adm'] = true;
    return [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
  };
  const algNone = (token: string): string => {
    const [, p] = token.split('.') as [string, string];
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    return `${header}.${p}.`;
  };

  it.each([
    ['malformed header', () => Promise.resolve('Basic dXNlcjpwYXNz')],
    ['garbage token', () => Promise.resolve('Bearer not-a-jwt')],
    ['expired token', async () => `Bearer ${await auth.mint({}, { ttlSeconds: -120 })}`],
    ['tampered token', async () => `Bearer ${tamper(await auth.mint())}`],
    ['alg: none token', async () => `Bearer ${algNone(await auth.mint())}`],
    ['token signed with an unpublished key', async () => `Bearer ${await auth.mint({}, { key: 'other' })}`],
  ])('refuses a %s with 401 UNAUTHENTICATED and never reaches the subgraph', async (_name, header) => {
    const before = echo.received.length;
    const res = await post(url, { query: '{ hello }' }, { authorization: await header() });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect(echo.received.length).toBe(before);
  });

  it('accepts a valid token and lets anonymous requests through', async () => {
    expect((await post(url, { query: '{ hello }' }, bearer(await auth.mint()))).body.data).toEqual({
      hello: 'world',
    });
    expect((await post(url, { query: '{ hello }' })).body.data).toEqual({ hello: 'world' });
  });

  it('counts refusals by reason', async () => {
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/gateway_auth_failures_total\{[^}]*reason="expired"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/gateway_auth_failures_total\{[^}]*reason="malformed"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/gateway_auth_failures_total\{[^}]*reason="invalid"[^}]*\} [1-9]/);
  });
});

describe('session revocation', () => {
  it('refuses a revoked session within 1 s on every gateway instance', async () => {
    const second = createGateway({ ...config, GATEWAY_PORT: 0 });
    const { url: secondBase } = await second.start();
    try {
      const sid = `sess-${Date.now()}`;
      const token = await auth.mint({ sid });
      const urls = [url, `${secondBase}/graphql`];
      for (const u of urls) expect((await post(u, { query: '{ hello }' }, bearer(token))).status).toBe(200);
      // Both instances now hold the session as live in their cache (30 s); only pub/sub can evict it.
      auth.revoke(sid);
      await redis.publish(channels.sessionRevoked(config.REDIS_PREFIX), `other-session,${sid}`);
      for (const u of urls) {
        const refused = await pollUntil(async () => {
          const res = await post(u, { query: '{ hello }' }, bearer(token));
          return res.status === 401 && res.body.errors?.[0]?.extensions?.['code'] === 'UNAUTHENTICATED';
        }, 1000);
        expect(refused).toBe(true);
      }
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/gateway_auth_failures_total\{[^}]*reason="revoked"[^}]*\} [1-9]/);
    } finally {
      await second.stop();
    }
  });
});

describe('session checks that cannot be made', () => {
  it('are answered 503 INTERNAL_SERVER_ERROR with Retry-After, never 401, and not remembered', async () => {
    const sid = `sess-unchecked-${Date.now()}`;
    const token = await auth.mint({ sid });
    // What the sessions service answers while its Redis fails over (chaos run 6, docs/reliability.md).
    auth.failLiveness(sid, true);
    const refused = await post(url, { query: '{ hello }' }, bearer(token));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body.errors?.[0]?.extensions?.['code']).toBe('INTERNAL_SERVER_ERROR');
    auth.failLiveness(sid, false);
    expect((await post(url, { query: '{ hello }' }, bearer(token))).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/gateway_auth_failures_total\{[^}]*reason="unavailable"[^}]*\} [1-9]/);
  });
});

describe('operation limits', () => {
  const nested = (depth: number): string => {
    let sel = 'id';
    for (let i = 1; i < depth; i++) sel = `id child { ${sel} }`;
    return `{ node { ${sel} } }`;
  };

  it('accepts an operation at the depth limit and refuses one beyond it', async () => {
    expect((await post(url, { query: nested(4) })).body.errors).toBeUndefined();
    const res = await post(url, { query: nested(6) });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'depth' });
  });

  it('counts depth through fragments and stops on fragment cycles', async () => {
    const viaFragments = await post(url, {
      query:
        'query { node { ...A } } fragment A on Node { child { ...B } } fragment B on Node { child { child { child { id } } } }',
    });
    expect(viaFragments.body.errors?.[0]?.extensions?.['code']).toBe('QUERY_TOO_COMPLEX');
    const cycle = await post(url, {
      query:
        'query { node { ...A } } fragment A on Node { child { ...B } } fragment B on Node { child { ...A } }',
    });
    expect(cycle.status).toBe(400);
    expect(cycle.body.errors?.some((e) => /Cannot spread fragment/.test(e.message))).toBe(true);
  });

  it('refuses too many aliases, fragments expanded', async () => {
    expect((await post(url, { query: '{ a: hello b: hello c: hello }' })).body.errors).toBeUndefined();
    const res = await post(url, {
      query:
        '{ ...F x: node { ...G } } fragment F on Query { a: hello b: hello } fragment G on Node { c: id d: id }',
    });
    expect(res.body.errors).toBeUndefined();
    const over = await post(url, {
      query:
        '{ ...F ...F2 } fragment F on Query { a: hello b: hello c: hello } fragment F2 on Query { ...F }',
    });
    expect(over.status).toBe(400);
    expect(over.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'aliases' });
  });

  it('refuses a query document larger than MAX_QUERY_BYTES with 413', async () => {
    const res = await post(url, { query: `{ hello ${' '.repeat(2100)} }` }, { 'x-request-id': 'big-1' });
    expect(res.status).toBe(413);
    expect(res.headers.get('x-request-id')).toBe('big-1');
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'size' });
  });

  it('still serves the full introspection query (GraphiQL, codegen)', async () => {
    const res = await post(url, { query: getIntrospectionQuery() });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.['__schema']).toBeTruthy();
  });
});

describe('GraphQL over HTTP', () => {
  it('refuses a GET or a simple POST without a preflight header (CSRF prevention)', async () => {
    const get = await fetch(`${url}?query=${encodeURIComponent('{ hello }')}`, {
      headers: { accept: 'application/json' },
    });
    expect(get.status).toBe(400);
    expect(await get.text()).toMatch(/CSRF/);
    const simple = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ query: '{ hello }' }),
    });
    expect(simple.status).toBe(400);
    expect(await simple.text()).toMatch(/CSRF/);
    expect(echo.received.some((h) => h['content-type'] === 'text/plain')).toBe(false);
  });

  it('serves queries over GET with the preflight header, refuses mutations over GET', async () => {
    const get = await fetch(`${url}?query=${encodeURIComponent('{ hello }')}`, {
      headers: { 'apollo-require-preflight': 'true', accept: 'application/graphql-response+json' },
    });
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toMatch(/^application\/graphql-response\+json/);
    expect(await get.json()).toEqual({ data: { hello: 'world' } });
    const pokes = echo.counters.poke;
    const mutation = await fetch(`${url}?query=${encodeURIComponent('mutation { poke }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(mutation.status).toBe(405);
    expect(echo.counters.poke).toBe(pokes);
  });

  it('refuses an unknown or missing operation name with 400 BAD_USER_INPUT', async () => {
    const unknown = await post(url, { query: 'query A { hello }', operationName: 'B' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors?.[0]).toMatchObject({
      message: 'Unknown operation named "B"',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const ambiguous = await post(url, { query: 'query A { hello } query B { hello }' });
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    const named = await post(url, { query: 'query A { hello } query B { a: hello }', operationName: 'B' });
    expect(named.body.data).toEqual({ a: 'world' });
  });

  it('answers Cache-Control: no-store, or a max-age when every subgraph answer allowed one', async () => {
    const cacheControl = async (query: string): Promise<string | null> =>
      (await post(url, { query })).headers.get('cache-control');
    expect(await cacheControl('{ hello }')).toBe('no-store');
    // The subgraph answers `max-age=30, public` for this field alone.
    expect(await cacheControl('{ cached }')).toBe('max-age=30, public');
    expect(await cacheControl('{ cached hello }')).toBe('no-store');
    // An answer with an error is never cacheable.
    expect(await cacheControl('{ cached missing }')).toBe('no-store');
    // Refused before any subgraph is asked.
    expect(await cacheControl('{ nope }')).toBe('no-store');
  });

  it('answers CORS preflights for configured origins only', async () => {
    const preflight = (origin: string): Promise<Response> =>
      fetch(url, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,authorization',
        },
      });
    const allowed = await preflight('http://app.example.com');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://app.example.com');
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const denied = await preflight('http://evil.example.com');
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    const actual = await post(url, { query: '{ hello }' }, { origin: 'http://evil.example.com' });
    expect(actual.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('supports automatic persisted queries stored in Redis, registered by signed-in clients', async () => {
    const query = '{ hello headersAgain: hello }';
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    const miss = await post(url, { extensions });
    expect(miss.body.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_NOT_FOUND');
    const anonymous = await post(url, { query, extensions });
    expect(anonymous.status).toBe(403);
    expect(anonymous.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const register = await post(url, { query, extensions }, bearer(await auth.mint()));
    expect(register.body.data).toEqual({ hello: 'world', headersAgain: 'world' });
    // Hash-only look-ups work for everyone.
    const hit = await post(url, { extensions });
    expect(hit.body.data).toEqual({ hello: 'world', headersAgain: 'world' });
    const stored = await redis.hget(`${config.REDIS_PREFIX}gateway:apq:queries`, `apq:${sha256Hash}`);
    expect(stored).toBe(query);
    const wrong = await post(url, { query: '{ hello }', extensions }, bearer(await auth.mint()));
    expect(wrong.status).toBe(400);
  });

  it('masks unexpected subgraph errors and keeps public codes', async () => {
    const res = await post(url, { query: '{ boom missing hello }' });
    const raw = JSON.stringify(res.body);
    expect(res.body.data).toMatchObject({ boom: null, missing: null, hello: 'world' });
    const byPath = Object.fromEntries(
      (res.body.errors ?? []).map((e) => [String((e as { path?: unknown[] }).path?.[0]), e]),
    );
    expect(byPath['boom']).toMatchObject({
      message: 'Internal server error',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(byPath['missing']).toMatchObject({
      message: 'Widget not found',
      extensions: { code: 'NOT_FOUND' },
    });
    for (const leak of ['INSERT', 'users_email_key', 'stacktrace', 'serviceName', echo.url, 'at ']) {
      expect(raw).not.toContain(leak);
    }
  });

  it('refuses introspection when configured off (production default)', async () => {
    const closed = createGateway({ ...config, GATEWAY_PORT: 0, introspection: false });
    const { url: closedBase } = await closed.start();
    try {
      const res = await post(`${closedBase}/graphql`, { query: '{ __schema { queryType { name } } }' });
      expect(res.status).toBe(400);
      expect(res.body.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
      expect((await post(`${closedBase}/graphql`, { query: '{ hello }' })).body.data).toEqual({
        hello: 'world',
      });
      // No "did you mean" hints about the schema either.
      const typo = await post(`${closedBase}/graphql`, { query: '{ helo }' });
      expect(JSON.stringify(typo.body)).not.toMatch(/Did you mean/);
    } finally {
      await closed.stop();
    }
  });

  it('masks a subgraph that cannot be reached', async () => {
    const down = createGateway(
      { ...config, GATEWAY_PORT: 0 },
      { subgraphUrls: { echo: 'http://127.0.0.1:9/graphql' } },
    );
    const { url: downBase } = await down.start();
    try {
      const res = await post(`${downBase}/graphql`, { query: '{ hello }' });
      expect(res.body.errors?.[0]).toMatchObject({
        message: 'Internal server error',
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      });
      expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1:9/);
      const ready = await fetch(`${downBase}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ checks: { subgraphs: false, redis: true } });
    } finally {
      await down.stop();
    }
  });

  it('masks a subgraph that times out or drops the connection', async () => {
    // Raw TCP peers: one reads the request and never answers, one closes the socket on it.
    const silent = net.createServer(() => undefined);
    const dropping = net.createServer((socket) => socket.once('data', () => socket.destroy()));
    const sockets = new Set<net.Socket>();
    for (const server of [silent, dropping]) {
      server.on('connection', (s) => sockets.add(s));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    }
    const urlOf = (server: net.Server): string =>
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    try {
      for (const server of [silent, dropping]) {
        const broken = createGateway(
          { ...config, GATEWAY_PORT: 0, SUBGRAPH_TIMEOUT_MS: 300 },
          { subgraphUrls: { echo: urlOf(server) } },
        );
        const { url: brokenBase } = await broken.start();
        try {
          const res = await post(`${brokenBase}/graphql`, { query: '{ hello }' });
          expect(res.body.errors?.[0]).toMatchObject({
            message: 'Internal server error',
            extensions: { code: 'INTERNAL_SERVER_ERROR' },
          });
          expect(JSON.stringify(res.body)).not.toMatch(/timed out|closed|hang up|127\.0\.0\.1/);
        } finally {
          await broken.stop();
        }
      }
    } finally {
      for (const s of sockets) s.destroy();
      for (const server of [silent, dropping]) await new Promise((r) => server.close(r));
    }
  });
});

describe('probes and metrics', () => {
  it('answers /health, /ready and /metrics', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { gateway: true, redis: true, subgraphs: true } });
    expect(gateway.state).toBe('serving');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(
      /gateway_request_duration_seconds_count\{[^}]*operation_type="query"[^}]*\} [1-9]/,
    );
    expect(metrics).toMatch(
      /gateway_request_duration_seconds_count\{[^}]*operation_type="unknown"[^}]*\} [1-9]/,
    );
  });
});

describe('in-flight dedupe', () => {
  it('shares one subgraph fetch between identical concurrent queries with the same token', async () => {
    const token = await auth.mint();
    const before = echo.counters.slow;
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => post(url, { query: '{ slow(ms: 300) }' }, bearer(token))),
    );
    for (const a of answers) expect(a.body.data).toEqual({ slow: 'done' });
    expect(echo.counters.slow - before).toBeLessThan(8);
  });

  it('does not share between different tokens, nor mutations', async () => {
    const before = echo.counters.slow;
    await Promise.all(
      Array.from({ length: 3 }, async () =>
        post(url, { query: '{ slow(ms: 300) }' }, bearer(await auth.mint())),
      ),
    );
    expect(echo.counters.slow - before).toBe(3);
    const pokes = echo.counters.poke;
    const token = await auth.mint();
    await Promise.all(
      Array.from({ length: 4 }, () => post(url, { query: 'mutation { poke }' }, bearer(token))),
    );
    expect(echo.counters.poke - pokes).toBe(4);
  });
});
