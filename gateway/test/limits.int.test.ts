/**
 * Static limits and the cost budget through HTTP with real Redis. The cost and shape limits run on
 * the real supergraph (schema/supergraph.graphql) with every subgraph pointed at a recorder that
 * counts requests, so "refused before any subgraph is called" is observed, on the single-fetch path
 * and on the gateway's executor. The budget runs on the echo subgraph (`{ hello }` costs one fetch).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, type Config } from '../../lib/config.js';
import { createTestEnv, type TestEnv } from '../../test/support/env.js';
import { eventually } from '../../test/support/wait.js';
import { createGateway, type GatewayService } from '../src/gateway.js';
import { FETCH_COST } from '../src/operation-limits.js';
import { post, startEchoWorld, type Answer, type AuthFixtures, type EchoWorld } from './support/harness.js';

let env: TestEnv;
let world: EchoWorld;
let auth: AuthFixtures;
let recorder: http.Server;
let recorded = 0;
let recorderUrl: string;
let redis: Redis;
const running: GatewayService[] = [];

beforeAll(async () => {
  env = await createTestEnv('gateway_limits');
  world = await startEchoWorld(env);
  ({ auth } = world);
  recorder = http.createServer((req, res) => {
    recorded++;
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ data: null, errors: [{ message: 'recorder' }] }));
  });
  await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
  recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/graphql`;
  redis = new Redis(env.config.REDIS_URL);
});

afterAll(async () => {
  for (const g of running) await g.stop();
  recorder?.closeAllConnections();
  await new Promise((r) => recorder?.close(r));
  redis?.disconnect();
  await world?.stop();
  await env?.cleanup();
});

/** A gateway on its own key prefix; `real` serves the real supergraph with every subgraph at the recorder. */
async function gatewayWith(name: string, overrides: Partial<Config>, real: boolean): Promise<string> {
  const config: Config = {
    ...world.config,
    ...(real ? { SUPERGRAPH_PATH: `${PROJECT_ROOT}/schema/supergraph.graphql` } : {}),
    ...overrides,
    REDIS_PREFIX: `${env.config.REDIS_PREFIX}${name}:`,
  };
  const names = ['auth', 'sessions', 'tenants', 'trading', 'market-data', 'analytics'];
  const g = createGateway(
    config,
    real ? { subgraphUrls: Object.fromEntries(names.map((n) => [n, recorderUrl])) } : {},
  );
  running.push(g);
  const { url } = await g.start();
  return `${url}/graphql`;
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** The abuse of issue 11 (`events` needs a selection to validate). */
const WIDE = `{ ${Array.from(
  { length: 30 },
  (_, i) =>
    `a${i}: accounts { orders(first: 500) { events { id } trades { order { trades { order { id } } } } } }`,
).join(' ')} }`;

function expectTooComplex(res: Answer, limit: string): Record<string, unknown> {
  expect(res.status).toBe(400);
  expect(res.body.data).toBeUndefined();
  const extensions = res.body.errors?.[0]?.extensions ?? {};
  expect(extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit });
  return extensions;
}

describe.each([true, false])('static limits on the real supergraph (fast paths: %s)', (single) => {
  let url: string;
  beforeAll(async () => {
    url = await gatewayWith(
      `static_${String(single)}`,
      { GATEWAY_SINGLE_FETCH: single, GATEWAY_LEAN_EXECUTOR: single },
      true,
    );
  });

  it('refuses the 30-alias wide query by cost before calling any subgraph', async () => {
    const before = recorded;
    const res = await post(url, { query: WIDE }, bearer(await auth.mint()));
    const ext = expectTooComplex(res, 'cost');
    expect(ext['maxCost']).toBe(50_000);
    expect(ext['cost']).toBeGreaterThan(30_000_000);
    expect(res.body.errors?.[0]?.message).toBe(
      `Query cost ${String(ext['cost'])} exceeds the limit of 50000`,
    );
    // One alias is refused too; the size comes from variables as well.
    const oneByVariable = await post(url, {
      query:
        'query ($n: Int!) { accounts { orders(first: $n) { events { id } trades { order { trades { order { id } } } } } } }',
      variables: { n: 500 },
    });
    expectTooComplex(oneByVariable, 'cost');
    expect(recorded).toBe(before);
  });

  it('answers a repeated statically refused document from memory, with the same answer', async () => {
    const metricsUrl = url.replace('/graphql', '/metrics');
    const fromMemory = async (): Promise<number> => {
      const m = /gateway_refusals_from_memory_total(?:\{[^}]*\})? (\d+)/.exec(
        await (await fetch(metricsUrl)).text(),
      );
      return Number(m?.[1] ?? 0);
    };
    const token = await auth.mint();
    const aliases = `{ me { ${Array.from({ length: 31 }, (_, i) => `b${i}: id`).join(' ')} } }`;
    for (const query of [WIDE, aliases]) {
      const first = await post(url, { query }, bearer(token));
      const before = await fromMemory();
      const again = await post(url, { query }, bearer(token));
      expect(again.status).toBe(first.status);
      expect(again.body).toEqual(first.body);
      expect(await fromMemory()).toBe(before + 1);
    }
    // A cost that depends on variables is computed each time: a smaller page is then admitted.
    const byVariable =
      'query Page($n: Int!) { accounts { orders(first: $n) { events { id } trades { order { trades { order { id } } } } } } }';
    expectTooComplex(await post(url, { query: byVariable, variables: { n: 500 } }, bearer(token)), 'cost');
    const before = await fromMemory();
    const small = await post(url, { query: byVariable, variables: { n: 1 } }, bearer(token));
    expect(small.body.errors?.[0]?.extensions?.['code']).not.toBe('QUERY_TOO_COMPLEX');
    expect(await fromMemory()).toBe(before);
  });

  it('answers every copy of a new refused document sent together the same (they wait for the first)', async () => {
    const waits = async (): Promise<number> => {
      const text = await (await fetch(url.replace('/graphql', '/metrics'))).text();
      return Number(/^gateway_first_sight_waits_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
    };
    // A text this gateway has not seen yet (other alias names than WIDE's).
    const query = WIDE.replaceAll(/\ba(\d+):/g, 'together$1:');
    const token = await auth.mint();
    const before = await waits();
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(url, { query }, bearer(token))));
    // Released once Apollo had validated the document (then refused by cost from its kept document)
    // or had refused it (then from memory): the same answer either way, and none left waiting.
    for (const a of answers) {
      expectTooComplex(a, 'cost');
      expect(a.body).toEqual(answers[0]?.body);
    }
    expect((await waits()) - before).toBeLessThanOrEqual(5);
  });

  it('admits ordinary client queries (they reach the subgraphs)', async () => {
    const token = await auth.mint();
    for (const query of [
      '{ me { id email memberships { role tenant { id organizationName status } } } }',
      '{ accounts { id name positions { symbol quantity } orders(first: 50) { id status trades { id } } } }',
    ]) {
      const before = recorded;
      const res = await post(url, { query }, bearer(token));
      expect(res.body.errors?.[0]?.extensions?.['code']).not.toBe('QUERY_TOO_COMPLEX');
      expect(recorded).toBeGreaterThan(before);
    }
  });

  it('refuses too many tokens, directives and aliases with QUERY_TOO_COMPLEX, and counts them', async () => {
    const before = recorded;
    const many = Array.from({ length: 2100 }, () => 'id').join(' ');
    expectTooComplex(await post(url, { query: `{ me { ${many} } }` }), 'tokens');
    const directives = Array.from({ length: 51 }, () => 'id @include(if: true)').join(' ');
    expectTooComplex(await post(url, { query: `{ me { ${directives} } }` }), 'directives');
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: id`).join(' ');
    expectTooComplex(await post(url, { query: `{ me { ${aliases} } }` }), 'aliases');
    expect(recorded).toBe(before);
    const metrics = await (await fetch(url.replace('/graphql', '/metrics'))).text();
    for (const limit of ['cost', 'tokens', 'directives', 'aliases']) {
      expect(metrics).toMatch(
        new RegExp(`gateway_limit_refusals_total\\{[^}]*limit="${limit}"[^}]*\\} [1-9]`),
      );
    }
    expect(metrics).toMatch(/gateway_query_cost_points_count\{[^}]*\} [1-9]/);
  });
});

describe('new documents per caller', () => {
  it('refuses a caller beyond its new documents with RATE_LIMITED; known documents and other callers go on', async () => {
    const url = await gatewayWith('new_docs', { GATEWAY_NEW_DOCUMENTS_PER_CALLER: 3 }, false);
    const user = await auth.mint();
    for (const query of ['{ hello }', '{ a: hello }', '{ b: hello }']) {
      expect((await post(url, { query }, bearer(user))).body.data).toBeDefined();
    }
    const received = world.echo.received.length;
    const refused = await post(url, { query: '{ c: hello }' }, bearer(user));
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.body.errors?.[0]).toMatchObject({
      message:
        'New documents (not validated before) exceed the limit of 3 per 60 s; send the same documents again, with variables',
      extensions: { code: 'RATE_LIMITED', limit: 'new_documents', max: 3, retryAfter },
    });
    expect(world.echo.received.length).toBe(received);
    // A document this gateway has validated costs nothing, whoever sends it.
    expect((await post(url, { query: '{ a: hello }' }, bearer(user))).body.data).toEqual({ a: 'world' });
    // Another user has a budget of its own; the refused text is new for them too.
    expect((await post(url, { query: '{ c: hello }' }, bearer(await auth.mint()))).body.data).toEqual({
      c: 'world',
    });
  });
});

describe('cost budget', () => {
  const budget = 100;
  let url: string;
  beforeAll(async () => {
    url = await gatewayWith(
      'budget',
      { MAX_QUERY_COST: budget, COST_BUDGET_PER_TENANT: budget, COST_BUDGET_PER_IP: budget },
      false,
    );
  });

  function expectBudgetRefusal(res: Answer, who: RegExp): void {
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'cost_budget',
      budget,
      retryAfter,
    });
    expect(res.body.errors?.[0]?.message).toMatch(who);
    expect(res.body.errors?.[0]?.message).toContain(`${budget} per 60 s`);
  }

  it('slows the tenant that spent its budget, spends nothing on a refusal, and serves other tenants', async () => {
    const tenantA = await auth.mint({ tid: 'tenant-a' });
    const tenantB = await auth.mint({ tid: 'tenant-b' });
    // `{ hello }` costs one fetch; spend all but one fetch's worth.
    for (let spent = 0; spent + FETCH_COST < budget; spent += FETCH_COST) {
      expect((await post(url, { query: '{ hello }' }, bearer(tenantA))).status).toBe(200);
    }
    const received = world.echo.received.length;
    // Two objects and a fetch: more than what is left.
    const refused = await post(url, { query: '{ a: node { id } b: node { id } }' }, bearer(tenantA));
    expectBudgetRefusal(refused, /per tenant/);
    expect(world.echo.received.length).toBe(received);
    // The refusal spent nothing: the last fetch's worth is still there.
    expect((await post(url, { query: '{ hello }' }, bearer(tenantA))).body.data).toEqual({ hello: 'world' });
    expectBudgetRefusal(await post(url, { query: '{ hello }' }, bearer(tenantA)), /per tenant/);
    // Another token of the same tenant shares its budget; another tenant has its own.
    expectBudgetRefusal(
      await post(url, { query: '{ hello }' }, bearer(await auth.mint({ tid: 'tenant-a' }))),
      /per tenant/,
    );
    for (let i = 0; i < 5; i++) {
      expect((await post(url, { query: '{ hello }' }, bearer(tenantB))).body.data).toEqual({
        hello: 'world',
      });
    }
    // The budget is shared through Redis: the spent points arrive within a sync (RATE_LIMIT_SYNC_MS).
    const key = `${env.config.REDIS_PREFIX}budget:gateway:cost:tenant:tenant-a`;
    const spent = await eventually(
      async () => ((await redis.get(key)) === String(budget) ? redis.pttl(key) : undefined),
      'the spent budget in Redis',
    );
    expect(spent).toBeGreaterThan(0);
    const metrics = await (await fetch(url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/gateway_limit_refusals_total\{[^}]*limit="cost_budget"[^}]*\} 3/);
  });

  it("holds a tenant's budget over the burst window too, and a refusal there spends nothing", async () => {
    // Windows long enough that no boundary passes during the test: a 600 s budget of 1,000 allows
    // (factor 1) 100 per 60 s burst window.
    const burstUrl = await gatewayWith(
      'budget-burst',
      {
        MAX_QUERY_COST: budget,
        COST_BUDGET_PER_TENANT: 10 * budget,
        COST_BUDGET_PER_IP: 10 * budget,
        COST_BUDGET_WINDOW_SECONDS: 600,
        RATE_LIMIT_BURST_SECONDS: 60,
        RATE_LIMIT_BURST_FACTOR: 1,
      },
      false,
    );
    const token = await auth.mint({ tid: 'tenant-burst' });
    for (let spent = 0; spent + FETCH_COST <= budget; spent += FETCH_COST) {
      expect((await post(burstUrl, { query: '{ hello }' }, bearer(token))).status).toBe(200);
    }
    const refused = await post(burstUrl, { query: '{ hello }' }, bearer(token));
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'cost_budget',
      budget,
      windowSeconds: 60,
    });
    expect(refused.body.errors?.[0]?.message).toContain(`${budget} per 60 s`);
    // The window's counter holds what was admitted, the refusal not included.
    const key = `${env.config.REDIS_PREFIX}budget-burst:gateway:cost:tenant:tenant-burst`;
    const admitted = Math.floor(budget / FETCH_COST) * FETCH_COST;
    expect(
      await eventually(
        async () => ((await redis.get(key)) === String(admitted) ? true : undefined),
        'the admitted cost in Redis',
      ),
    ).toBe(true);
  });

  it('budgets anonymous callers per client IP, apart from tenants', async () => {
    for (let spent = 0; spent < budget; spent += FETCH_COST) {
      expect((await post(url, { query: '{ hello }' })).status).toBe(200);
    }
    expectBudgetRefusal(await post(url, { query: '{ hello }' }), /client IP/);
    const tenantC = await auth.mint({ tid: 'tenant-c' });
    expect((await post(url, { query: '{ hello }' }, bearer(tenantC))).body.data).toEqual({ hello: 'world' });
  });
});
