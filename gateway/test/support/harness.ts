/**
 * Test fixtures for the gateway: a small federated subgraph that records what it receives (and
 * misbehaves on request: leaks SQL and stack traces, sleeps, counts calls), supergraph composition
 * for it, a JWKS server with a test Ed25519 key, a sessions liveness endpoint and a tenant-limits
 * endpoint the test controls, and token minting. Real HTTP servers on loopback and real Redis; nothing is mocked.
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { composeServices } from '@apollo/composition';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';
import type { Role } from '../../../lib/auth.js';
import type { Config } from '../../../lib/config.js';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { createTestSigner } from '../../../test/support/tokens.js';
import { createGateway, type GatewayService } from '../../src/gateway.js';

/** The test subgraph's schema; `withAdded` adds the field used by the hot-reload test. */
export function echoTypeDefs(withAdded: boolean): string {
  return `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

type Query {
  hello: String!
  "Headers the subgraph received for this request, as JSON."
  headers: String!
  "Throws an error whose message holds SQL text."
  boom: String
  "Throws a domain error with a public code."
  missing: String
  "Cacheable for 30 s by anyone (a dynamic cache hint): the gateway passes the subgraph's Cache-Control on."
  cached: String!
  "Sleeps, counting calls (dedupe test)."
  slow(ms: Int = 100): String!
  node: Node!
  ${withAdded ? 'added: String!' : ''}
}

type Node {
  id: ID!
  child: Node!
}

type Mutation {
  poke: Int!
}
`;
}

/** A running test subgraph. */
export interface EchoSubgraph {
  url: string;
  /** Headers of every request received, in order. */
  received: IncomingHttpHeaders[];
  counters: { slow: number; poke: number };
  stop(): Promise<void>;
}

/** Starts the test subgraph on a free loopback port (it serves the schema with `added`). */
export async function startEchoSubgraph(): Promise<EchoSubgraph> {
  const received: IncomingHttpHeaders[] = [];
  const counters = { slow: 0, poke: 0 };
  interface Ctx {
    headers: IncomingHttpHeaders;
  }
  const node = (depth: number): Record<string, unknown> => ({
    id: `n${depth}`,
    get child() {
      return node(depth + 1);
    },
  });
  const server = new ApolloServer<Ctx>({
    schema: buildSubgraphSchema({
      typeDefs: parse(echoTypeDefs(true)),
      resolvers: {
        Query: {
          hello: () => 'world',
          cached: (_p: unknown, _a: unknown, _c: unknown, info: unknown) => {
            // Apollo Server's cache-control plugin puts `cacheControl` on the resolver's info.
            const { cacheControl } = info as {
              cacheControl: { setCacheHint(hint: { maxAge: number; scope: 'PUBLIC' }): void };
            };
            cacheControl.setCacheHint({ maxAge: 30, scope: 'PUBLIC' });
            return 'cached';
          },
          headers: (_p: unknown, _a: unknown, ctx: unknown) => JSON.stringify((ctx as Ctx).headers),
          boom: () => {
            throw new Error(
              'duplicate key value violates unique constraint "users_email_key": INSERT INTO auth.users (email) VALUES ($1)',
            );
          },
          missing: () => {
            throw new GraphQLError('Widget not found', { extensions: { code: 'NOT_FOUND' } });
          },
          slow: async (_p: unknown, args: { ms: number }) => {
            counters.slow++;
            await new Promise((r) => setTimeout(r, args.ms));
            return 'done';
          },
          node: () => node(1),
          added: () => 'new field',
        },
        Mutation: {
          poke: () => ++counters.poke,
        },
      },
    }),
    // A careless subgraph: stack traces on, no masking. The gateway must not pass either through.
    includeStacktraceInErrorResponses: true,
    stopOnTerminationSignals: false,
  });
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: ({ req }) => {
      received.push({ ...req.headers });
      return Promise.resolve({ headers: req.headers });
    },
  });
  return { url, received, counters, stop: () => server.stop() };
}

/** Composes a supergraph for the given subgraphs; throws on composition errors. */
export function composeSupergraph(subgraphs: { name: string; url: string; typeDefs: string }[]): string {
  const result = composeServices(
    subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.typeDefs) })),
  );
  if (result.errors) throw new Error(result.errors.map((e) => e.message).join('\n'));
  return result.supergraphSdl;
}

/** Writes a supergraph with the echo subgraph to `file`. */
export async function writeEchoSupergraph(file: string, url: string, withAdded: boolean): Promise<void> {
  await writeFile(file, composeSupergraph([{ name: 'echo', url, typeDefs: echoTypeDefs(withAdded) }]));
}

/** Claims a test token carries (the access-token contract of lib/auth). */
export interface TokenClaims {
  sub: string;
  sid: string;
  tid: string;
  role: string;
  adm: boolean;
  email: string;
}

/** JWKS + sessions liveness fixtures, and token minting with the published or another key. */
export interface AuthFixtures {
  jwksUrl: string;
  sessionsUrl: string;
  /** Signs an access token; `ttlSeconds` may be negative for an expired one. */
  mint(
    claims?: Partial<TokenClaims>,
    opts?: { ttlSeconds?: number; key?: 'published' | 'other' },
  ): Promise<string>;
  /** Marks a session revoked at the liveness endpoint (the test also publishes on Redis). */
  revoke(sessionId: string): void;
  /** While on, the liveness endpoint answers 503 for questions about this session (Redis failing over). */
  failLiveness(sessionId: string, on: boolean): void;
  /** Liveness lookups received, by session id. */
  livenessCalls: Map<string, number>;
  stop(): Promise<void>;
}

async function listen(handler: http.RequestListener): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Starts the JWKS and liveness servers for `config` (its issuer, audience and service token). */
export async function startAuthFixtures(
  config: Pick<Config, 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'SERVICE_TOKEN'>,
): Promise<AuthFixtures> {
  const kid = `test-${randomUUID()}`;
  // Two keys under one kid: tokens of `other` carry a valid-looking header but a forged signature.
  const published = await createTestSigner(config, kid);
  const other = await createTestSigner(config, kid);
  const jwk = published.jwk;
  const revoked = new Set<string>();
  const failing = new Set<string>();
  const livenessCalls = new Map<string, number>();

  const jwks = await listen((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  const sessions = await listen((req, res) => {
    // The batch form (lib/session-liveness-client.ts): `{ ids }` -> `{ live: { [id]: boolean } }`.
    if (req.method === 'POST' && req.url === '/internal/sessions/liveness') {
      if (req.headers['x-service-token'] !== config.SERVICE_TOKEN) {
        res.statusCode = 403;
        res.end();
        return;
      }
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const ids = (JSON.parse(body) as { ids: string[] }).ids;
        for (const id of ids) livenessCalls.set(id, (livenessCalls.get(id) ?? 0) + 1);
        if (ids.some((id) => failing.has(id))) {
          res.statusCode = 503;
          res.end();
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ live: Object.fromEntries(ids.map((id) => [id, !revoked.has(id)])) }));
      });
      return;
    }
    const m = /^\/internal\/sessions\/([^/]+)$/.exec(req.url ?? '');
    if (!m?.[1] || req.headers['x-service-token'] !== config.SERVICE_TOKEN) {
      res.statusCode = m ? 403 : 404;
      res.end();
      return;
    }
    const id = decodeURIComponent(m[1]);
    livenessCalls.set(id, (livenessCalls.get(id) ?? 0) + 1);
    if (failing.has(id)) {
      res.statusCode = 503;
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ live: !revoked.has(id) }));
  });

  const mint = (
    claims: Partial<TokenClaims> = {},
    opts: { ttlSeconds?: number; key?: 'published' | 'other' } = {},
  ): Promise<string> =>
    (opts.key === 'other' ? other : published).sign(
      {
        userId: claims.sub,
        sessionId: claims.sid,
        tenantId: claims.tid,
        role: (claims.role ?? 'OWNER') as Role,
        platformAdmin: claims.adm ?? false,
        email: claims.email ?? 'trader@example.com',
      },
      opts.ttlSeconds ?? 900,
    );

  return {
    jwksUrl: `${jwks.url}/.well-known/jwks.json`,
    sessionsUrl: sessions.url,
    mint,
    revoke: (id) => revoked.add(id),
    failLiveness: (id, on) => (on ? failing.add(id) : failing.delete(id)),
    livenessCalls,
    async stop() {
      for (const s of [jwks.server, sessions.server]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}

/** A tenant's overrides as the tenants service's internal endpoint answers them (per minute). */
export interface LimitOverrides {
  requestsPerMinute?: number | null;
  requestsPerMinutePerUser?: number | null;
  costPerMinute?: number | null;
}

/** The tenants service's `GET /internal/tenants/:id/limits`, answered from what the test sets. */
export interface TenantLimitsFixture {
  url: string;
  /** The overrides of a tenant (an unknown tenant answers 404). */
  set(tenantId: string, overrides: LimitOverrides): void;
  /** While on, every look-up answers 503 (the tenants service down). */
  fail(on: boolean): void;
  /** Look-ups received, by tenant id. */
  calls: Map<string, number>;
  stop(): Promise<void>;
}

/** Starts the {@link TenantLimitsFixture}; it requires `config.SERVICE_TOKEN` like the real endpoint. */
export async function startTenantLimitsFixture(
  config: Pick<Config, 'SERVICE_TOKEN'>,
): Promise<TenantLimitsFixture> {
  const tenants = new Map<string, LimitOverrides>();
  const calls = new Map<string, number>();
  let failing = false;
  const { url, server } = await listen((req, res) => {
    const m = /^\/internal\/tenants\/([^/]+)\/limits$/.exec(req.url ?? '');
    if (!m?.[1] || req.headers['x-service-token'] !== config.SERVICE_TOKEN) {
      res.statusCode = m ? 403 : 404;
      res.end();
      return;
    }
    const id = decodeURIComponent(m[1]);
    calls.set(id, (calls.get(id) ?? 0) + 1);
    const overrides = tenants.get(id);
    res.statusCode = failing ? 503 : overrides ? 200 : 404;
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify(
        failing || !overrides
          ? {}
          : {
              requestsPerMinute: overrides.requestsPerMinute ?? null,
              requestsPerMinutePerUser: overrides.requestsPerMinutePerUser ?? null,
              costPerMinute: overrides.costPerMinute ?? null,
            },
      ),
    );
  });
  return {
    url,
    set: (id, overrides) => tenants.set(id, overrides),
    fail: (on) => (failing = on),
    calls,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The result of one HTTP GraphQL call, status and headers included. */
export interface Answer {
  status: number;
  headers: Headers;
  body: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
}

/** POSTs a GraphQL body (JSON) to `url` with the given headers. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as Answer['body'] };
}

/** Polls `fn` until it returns true or `timeoutMs` passes; returns the last result. */
export async function pollUntil(
  fn: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 25,
): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The usual fixtures of a gateway test file: see {@link startEchoWorld}. */
export interface EchoWorld {
  echo: EchoSubgraph;
  auth: AuthFixtures;
  /** The tenants service's limits endpoint the gateway reads. */
  tenantLimits: TenantLimitsFixture;
  /** The supergraph file naming the echo subgraph (rewrite it to test reloads). */
  supergraphPath: string;
  /** The test environment's config pointed at these fixtures, on a free gateway port. */
  config: Config;
  stop(): Promise<void>;
}

/**
 * Starts the echo subgraph and the auth fixtures, writes a supergraph naming the subgraph into the
 * test's temp folder, and returns a gateway config that uses them.
 */
export async function startEchoWorld(env: { config: Config; tmpDir: string }): Promise<EchoWorld> {
  const echo = await startEchoSubgraph();
  const auth = await startAuthFixtures(env.config);
  const tenantLimits = await startTenantLimitsFixture(env.config);
  const supergraphPath = path.join(env.tmpDir, 'supergraph.graphql');
  await writeEchoSupergraph(supergraphPath, echo.url, false);
  return {
    echo,
    auth,
    tenantLimits,
    supergraphPath,
    config: {
      ...env.config,
      GATEWAY_PORT: 0,
      SUPERGRAPH_PATH: supergraphPath,
      jwksUrl: auth.jwksUrl,
      sessionsUrl: auth.sessionsUrl,
      tenantsUrl: tenantLimits.url,
    },
    stop: async () => {
      await echo.stop();
      await auth.stop();
      await tenantLimits.stop();
    },
  };
}

/** A gateway test file's namespace, its {@link EchoWorld} and the gateways it starts, stopped together. */
export interface GatewayBed {
  env: TestEnv;
  world: EchoWorld;
  /**
   * Starts a gateway on the world's config plus `overrides`; stopped by {@link GatewayBed.stop}.
   * @param keyPrefix when given, the gateway's Redis keys get a prefix of their own under the file's
   * (so the rate-limit scopes of two gateways do not mix)
   * @returns the gateway and its base URL
   */
  gateway(overrides?: Partial<Config>, keyPrefix?: string): Promise<{ gateway: GatewayService; url: string }>;
  stop(): Promise<void>;
}

/** Creates the test namespace `name`, starts its {@link EchoWorld}; see {@link GatewayBed}. */
export async function startGatewayBed(name: string): Promise<GatewayBed> {
  const env = await createTestEnv(name);
  const world = await startEchoWorld(env).catch(async (err: unknown) => {
    await env.cleanup();
    throw err;
  });
  const running: GatewayService[] = [];
  return {
    env,
    world,
    async gateway(overrides = {}, keyPrefix) {
      const prefix =
        keyPrefix === undefined ? {} : { REDIS_PREFIX: `${env.config.REDIS_PREFIX}${keyPrefix}:` };
      const gateway = createGateway({ ...world.config, ...overrides, ...prefix });
      running.push(gateway);
      const { url } = await gateway.start();
      return { gateway, url };
    },
    async stop() {
      for (const g of running.reverse()) await g.stop();
      await world.stop();
      await env.cleanup();
    },
  };
}
