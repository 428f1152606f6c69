/**
 * A subgraph's lean pipeline (lib/lean-graphql.ts) against Apollo Server's: two services over the
 * same subgraph schema, one with SUBGRAPH_LEAN_PIPELINE off, must answer every request the same
 * (status, headers, bytes), resolver errors of every kind included (masked, public codes, an `http`
 * extension with status and headers, a null root), hand requests refused before execution (bad
 * variables, a failed context) to Apollo Server, and run each operation once.
 */
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, ErrorCode, notFound } from './errors.js';
import { createHttpService, type HttpService } from './http.js';
import { createMetrics, type HttpMetrics } from './metrics.js';
import { postRaw } from '../test/support/graphql.js';
import { HeaderMap } from '@apollo/server';

interface Ctx {
  user: string;
}

const counters = { bump: 0, hello: 0 };
let services: { service: HttpService; base: string; metrics: HttpMetrics }[] = [];

beforeAll(async () => {
  const schema = buildSubgraphSchema({
    typeDefs: parse(`
      type Query {
        hello(name: String = "world"): String
        who: String
        sql: String
        missing: String
        limited: String
        required: String!
        items(first: Int!): [Item!]!
      }
      type Item { id: ID! bad: String }
      type Mutation { bump: Int! }
    `),
    resolvers: {
      Query: {
        hello: (_p: unknown, args: { name: string }) => {
          counters.hello++;
          return `hello ${args.name}`;
        },
        who: (_p: unknown, _a: unknown, ctx: unknown) => (ctx as Ctx).user,
        sql: () => {
          throw new Error('relation "tenant_x.orders" does not exist: SELECT * FROM tenant_x.orders');
        },
        missing: () => {
          throw notFound('Widget');
        },
        limited: () => {
          throw new GraphQLError('slow down', {
            extensions: {
              code: ErrorCode.RateLimited,
              retryAfter: 3,
              http: { status: 429, headers: new HeaderMap([['retry-after', '3']]) },
            },
          });
        },
        required: () => null,
        items: (_p: unknown, args: { first: number }) =>
          Array.from({ length: args.first }, (_, i) => ({ id: `i${i}` })),
      },
      Item: {
        bad: (item: { id: string }) => {
          if (item.id === 'i1') throw new AppError(ErrorCode.Forbidden, 'not yours');
          return 'fine';
        },
      },
      Mutation: { bump: () => ++counters.bump },
    },
  });
  const start = async (lean: boolean) => {
    const metrics = createMetrics(`lean-graphql-${String(lean)}`);
    const service = createHttpService<Ctx>({
      name: 'lean-graphql-test',
      config: { BIND_HOST: '127.0.0.1', introspection: false, SUBGRAPH_LEAN_PIPELINE: lean },
      port: 0,
      logger: pino({ level: 'silent' }),
      metrics,
      readiness: {},
      graphql: {
        schema,
        context: (req) => {
          const user = req.headers['x-user'];
          if (user === 'refused')
            return Promise.reject(new AppError(ErrorCode.Unauthenticated, 'who are you'));
          return Promise.resolve({ user: typeof user === 'string' ? user : 'anonymous' });
        },
      },
    });
    const { url } = await service.start();
    return { service, base: url, metrics };
  };
  services = [await start(true), await start(false)];
});

afterAll(async () => {
  for (const { service } of services) await service.stop();
});

const send = postRaw;

/** Requests of a service answered by its lean pipeline so far. */
async function leanCount(metrics: HttpMetrics): Promise<number> {
  const metric = await metrics.registry.getSingleMetricAsString('graphql_pipeline_total');
  return Number(/path="lean"[^}]*\} (\d+)/.exec(metric)?.[1] ?? 0);
}

/**
 * Sends the body twice to each service (the first validates it) and expects the same answers;
 * says whether the lean service's own pipeline answered the second.
 */
async function expectSame(body: unknown, headers: Record<string, string> = {}): Promise<boolean> {
  const [lean, apollo] = services as [(typeof services)[0], (typeof services)[0]];
  expect(await send(lean.base, body, headers)).toEqual(await send(apollo.base, body, headers));
  const before = await leanCount(lean.metrics);
  const answer = await send(lean.base, body, headers);
  expect(answer).toEqual(await send(apollo.base, body, headers));
  return (await leanCount(lean.metrics)) > before;
}

/** The error counts of a service's registry, by code. */
async function errorCounts(metrics: HttpMetrics): Promise<Record<string, number>> {
  const metric = await metrics.registry.getSingleMetricAsString('graphql_errors_total');
  const counts: Record<string, number> = {};
  for (const m of metric.matchAll(/\{[^}]*code="([^"]+)"[^}]*\} (\d+)/g)) counts[m[1] ?? ''] = Number(m[2]);
  return counts;
}

describe('a subgraph lean pipeline', () => {
  it.each([
    { name: 'default arguments', body: { query: '{ hello }' }, headers: {}, lean: true },
    {
      name: 'the named operation with variables',
      body: {
        query: 'query A { who } query B($n: String) { hello(name: $n) }',
        operationName: 'B',
        variables: { n: 'x' },
      },
      headers: { accept: 'application/graphql-response+json' },
      lean: true,
    },
    {
      name: 'the context',
      body: { query: '{ who }' },
      headers: { 'x-user': 'ada', accept: '*/*' },
      lean: true,
    },
    { name: 'a masked error next to data', body: { query: '{ hello sql }' }, headers: {}, lean: true },
    { name: 'a public code', body: { query: '{ missing hello }' }, headers: {}, lean: true },
    { name: "an error's status and headers", body: { query: '{ limited }' }, headers: {}, lean: true },
    { name: 'a null non-null root', body: { query: '{ required hello }' }, headers: {}, lean: true },
    { name: 'errors in a list', body: { query: '{ items(first: 3) { id bad } }' }, headers: {}, lean: true },
    {
      name: 'bad variables',
      body: { query: 'query Q($f: Int!) { items(first: $f) { id } }', variables: { f: 'x' } },
      headers: {},
      lean: false,
    },
    { name: 'a refused context', body: { query: '{ who }' }, headers: { 'x-user': 'refused' }, lean: false },
    {
      name: 'an Accept it cannot serve',
      body: { query: '{ hello }' },
      headers: { accept: 'text/plain' },
      lean: false,
    },
  ])('answers $name as Apollo Server does', async ({ body, headers, lean }) => {
    expect(await expectSame(body, headers)).toBe(lean);
  });

  it('runs an operation once, and counts errors by code as Apollo Server does', async () => {
    const [lean, apollo] = services as [(typeof services)[0], (typeof services)[0]];
    const before = counters.bump;
    await send(lean.base, { query: 'mutation { bump }' });
    const second = await send(lean.base, { query: 'mutation { bump }' });
    expect(counters.bump).toBe(before + 2);
    expect(JSON.parse(second.text)).toEqual({ data: { bump: before + 2 } });
    const hello = counters.hello;
    await send(lean.base, { query: '{ hello sql }' });
    expect(counters.hello).toBe(hello + 1);
    const [mine, theirs] = await Promise.all([errorCounts(lean.metrics), errorCounts(apollo.metrics)]);
    expect(mine).toEqual({ ...theirs, INTERNAL_SERVER_ERROR: (theirs['INTERNAL_SERVER_ERROR'] ?? 0) + 1 });
  });
});
