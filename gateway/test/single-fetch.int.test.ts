/**
 * The single-fetch fast path (gateway/src/single-fetch.gateway.ts) against @apollo/gateway's own
 * executor: two gateways over the same test subgraph, one with GATEWAY_SINGLE_FETCH off, must answer
 * every query byte for byte the same, and the metric must show which path ran.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config.js';
import { createTestEnv, type TestEnv } from '../../test/support/env.js';
import { installedVersions } from '../../test/support/versions.js';
import { createGateway, type GatewayService } from '../src/gateway.js';
import { SINGLE_FETCH_VERIFIED_WITH } from '../src/single-fetch.gateway.js';
import { post, startEchoWorld, writeEchoSupergraph, type EchoWorld } from './support/harness.js';

let env: TestEnv;
let world: EchoWorld;
let fast: GatewayService;
let slow: GatewayService;
let fastBase: string;
let slowBase: string;

beforeAll(async () => {
  env = await createTestEnv('gw_single_fetch');
  world = await startEchoWorld(env);
  // The library's executor on the slow side (the lean executor has its own test).
  const config: Config = { ...world.config, GATEWAY_DEDUPE: false, GATEWAY_LEAN_EXECUTOR: false };
  fast = createGateway({ ...config, GATEWAY_SINGLE_FETCH: true });
  slow = createGateway({ ...config, GATEWAY_SINGLE_FETCH: false });
  ({ url: fastBase } = await fast.start());
  ({ url: slowBase } = await slow.start());
});

afterAll(async () => {
  await fast?.stop();
  await slow?.stop();
  await world?.stop();
  await env?.cleanup();
});

async function pathCount(base: string, p: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`gateway_query_path_total{path="${p}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

const cases: { name: string; body: Record<string, unknown> }[] = [
  { name: 'plain fields', body: { query: '{ hello }' } },
  {
    name: 'aliases and nesting',
    body: { query: '{ a: hello n: node { id child { id k: child { id } } } }' },
  },
  {
    name: 'named fragments and variables',
    body: {
      query: 'query Q($ms: Int) { slow(ms: $ms) node { ...N child { ...N } } } fragment N on Node { id }',
      variables: { ms: 1 },
      operationName: 'Q',
    },
  },
  { name: 'a masked error next to data', body: { query: '{ boom missing hello }' } },
  { name: 'an error on a non-null path', body: { query: '{ hello missing }' } },
  { name: 'skip and include inside', body: { query: '{ node { id child @skip(if: true) { id } } }' } },
];

describe('single-fetch pin', () => {
  it('runs on the library versions it was verified against (upgrade note: single-fetch.gateway.ts)', () => {
    expect(installedVersions(SINGLE_FETCH_VERIFIED_WITH)).toEqual(SINGLE_FETCH_VERIFIED_WITH);
  });
});

describe('single-fetch fast path', () => {
  it.each(cases)('answers $name exactly as the gateway executor does', async ({ body }) => {
    const before = await pathCount(fastBase, 'single-fetch');
    const [a, b] = await Promise.all([post(`${fastBase}/graphql`, body), post(`${slowBase}/graphql`, body)]);
    expect(a.status).toBe(b.status);
    expect(JSON.stringify(a.body)).toBe(JSON.stringify(b.body));
    expect(await pathCount(fastBase, 'single-fetch')).toBe(before + 1);
  });

  it('runs mutations once and in order, and leaves introspection to the gateway', async () => {
    const fastBefore = await pathCount(fastBase, 'single-fetch');
    const before = await pathCount(fastBase, 'gateway');
    const pokes = world.echo.counters.poke;
    const m = await post(`${fastBase}/graphql`, { query: 'mutation { poke }' });
    expect(m.body).toEqual({ data: { poke: pokes + 1 } });
    expect(await pathCount(fastBase, 'single-fetch')).toBe(fastBefore + 1);
    // Two fields of one subgraph: one fetch, which the subgraph runs in order.
    const two = await post(`${fastBase}/graphql`, { query: 'mutation { a: poke b: poke }' });
    expect(two.body).toEqual({ data: { a: pokes + 2, b: pokes + 3 } });
    expect(await pathCount(fastBase, 'single-fetch')).toBe(fastBefore + 2);
    const i = await post(`${fastBase}/graphql`, { query: '{ __typename hello }' });
    expect(i.body.data).toEqual({ __typename: 'Query', hello: 'world' });
    expect(await pathCount(fastBase, 'gateway')).toBe(before + 1);
    expect(world.echo.counters.poke).toBe(pokes + 3);
  });

  it('answers an unreachable subgraph as the gateway does', async () => {
    // A gateway whose only subgraph is gone: both paths give the same masked error and null data.
    const deadEnv = path.join(env.tmpDir, 'dead.graphql');
    await writeEchoSupergraph(deadEnv, 'http://127.0.0.1:1/graphql', false);
    const config: Config = { ...world.config, SUPERGRAPH_PATH: deadEnv, GATEWAY_LEAN_EXECUTOR: false };
    const deadFast = createGateway({ ...config, GATEWAY_SINGLE_FETCH: true });
    const deadSlow = createGateway({ ...config, GATEWAY_SINGLE_FETCH: false });
    try {
      const [{ url: f }, { url: s }] = await Promise.all([deadFast.start(), deadSlow.start()]);
      for (const query of ['{ boom }', '{ hello }']) {
        const [a, b] = await Promise.all([post(`${f}/graphql`, { query }), post(`${s}/graphql`, { query })]);
        expect(a.status).toBe(b.status);
        expect(a.body).toEqual(b.body);
        expect(a.body.errors?.length).toBe(1);
      }
    } finally {
      await deadFast.stop();
      await deadSlow.stop();
    }
  });
});
