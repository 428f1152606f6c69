/**
 * The lean executor (gateway/src/plan-executor.ts) against @apollo/gateway's own executor: gateways
 * over the same two test subgraphs (accounts, orgs: entity jumps, @requires, a union, parallel root
 * fields), one with GATEWAY_LEAN_EXECUTOR and GATEWAY_SINGLE_FETCH off, must answer every query byte
 * for byte the same, partial failures of the second fetch included, and the metric must show which
 * path ran. The gateway with both fast paths on and one with only the lean executor are compared.
 */
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config.js';
import { createTestEnv, type TestEnv } from '../../test/support/env.js';
import { createGateway, type GatewayService } from '../src/gateway.js';
import { composeSupergraph, startEchoWorld, type EchoWorld } from './support/harness.js';
import {
  accountsTypeDefs,
  createTwoSubgraphs,
  orgsTypeDefs,
  TWO_SUBGRAPH_CASES,
} from './support/two-subgraphs.js';

async function startSubgraph(
  typeDefs: string,
  resolvers: unknown,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(typeDefs),
      resolvers: resolvers as GraphQLResolverMap<unknown>,
    }),
    stopOnTerminationSignals: false,
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return { url, stop: () => server.stop() };
}

let env: TestEnv;
let world: EchoWorld;
let subgraphs: { url: string; stop: () => Promise<void> }[] = [];
const gateways: GatewayService[] = [];
let lean: string;
let leanOnly: string;
let library: string;
let deadLean: string;
let deadLibrary: string;

beforeAll(async () => {
  env = await createTestEnv('gw_lean_executor');
  world = await startEchoWorld(env);
  const resolvers = createTwoSubgraphs();
  subgraphs = [
    await startSubgraph(accountsTypeDefs, resolvers.accounts),
    await startSubgraph(orgsTypeDefs, resolvers.orgs),
  ];
  const [accounts, orgs] = subgraphs;
  const supergraphPath = path.join(env.tmpDir, 'two.graphql');
  await writeFile(
    supergraphPath,
    composeSupergraph([
      { name: 'accounts', url: accounts?.url ?? '', typeDefs: accountsTypeDefs },
      { name: 'orgs', url: orgs?.url ?? '', typeDefs: orgsTypeDefs },
    ]),
  );
  const config: Config = { ...world.config, SUPERGRAPH_PATH: supergraphPath, GATEWAY_DEDUPE: false };
  const start = async (overrides: Partial<Config>, urls: Record<string, string> = {}): Promise<string> => {
    const gateway = createGateway({ ...config, ...overrides }, { subgraphUrls: urls });
    gateways.push(gateway);
    return (await gateway.start()).url;
  };
  const dead = { orgs: 'http://127.0.0.1:1/graphql' };
  [lean, leanOnly, library, deadLean, deadLibrary] = await Promise.all([
    start({ GATEWAY_SINGLE_FETCH: true, GATEWAY_LEAN_EXECUTOR: true }),
    start({ GATEWAY_SINGLE_FETCH: false, GATEWAY_LEAN_EXECUTOR: true }),
    start({ GATEWAY_SINGLE_FETCH: false, GATEWAY_LEAN_EXECUTOR: false }),
    start({ GATEWAY_SINGLE_FETCH: true, GATEWAY_LEAN_EXECUTOR: true }, dead),
    start({ GATEWAY_SINGLE_FETCH: false, GATEWAY_LEAN_EXECUTOR: false }, dead),
  ]);
});

afterAll(async () => {
  for (const g of gateways) await g.stop();
  for (const s of subgraphs) await s.stop();
  await world?.stop();
  await env?.cleanup();
});

async function pathCount(base: string, p: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`gateway_query_path_total{path="${p}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Posts `body` to each gateway and expects the same status and the same bytes as the library's. */
async function expectSameAnswers(body: Record<string, unknown>, reference: string, others: string[]) {
  const [want, ...got] = await Promise.all(
    [reference, ...others].map(async (base) => {
      const res = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, text: await res.text() };
    }),
  );
  for (const answer of got) expect(answer).toEqual(want);

  return JSON.parse(want?.text ?? 'null') as { data?: unknown; errors?: unknown[]; extensions?: unknown };
}

const cases = TWO_SUBGRAPH_CASES;

describe('lean executor', () => {
  it.each(cases)('answers $name exactly as the gateway executor does', async ({ body }) => {
    const before = await pathCount(lean, 'lean');
    await expectSameAnswers(body, library, [lean, leanOnly]);
    expect(await pathCount(lean, 'lean')).toBe(before + 1);
  });

  it('leaves single fetches to the single-fetch path, and runs them itself when that path is off', async () => {
    const body = { query: '{ me { id email } }' };
    const [single, leanBefore] = [await pathCount(lean, 'single-fetch'), await pathCount(leanOnly, 'lean')];
    await expectSameAnswers(body, library, [lean, leanOnly]);
    expect(await pathCount(lean, 'single-fetch')).toBe(single + 1);
    expect(await pathCount(leanOnly, 'lean')).toBe(leanBefore + 1);
  });

  it('runs a mutation followed by an entity fetch as the library does', async () => {
    const before = await pathCount(lean, 'lean');
    const body = { query: 'mutation { rename(name: "Grace") { name memberships { org { name } } } }' };
    const answer = await expectSameAnswers(body, library, [lean]);
    expect(answer.data).toMatchObject({ rename: { name: 'Grace' } });
    expect(await pathCount(lean, 'lean')).toBe(before + 1);
  });

  it('leaves bad variables and introspection to the library', async () => {
    const before = await pathCount(lean, 'gateway');
    const missing = { query: 'query ($id: ID!) { user(id: $id) { memberships { org { name } } } }' };
    const answer = await expectSameAnswers(missing, library, [lean, leanOnly]);
    expect(answer.errors).toHaveLength(1);
    const introspection = {
      query: '{ __schema { queryType { name } } me { memberships { org { name } } } }',
    };
    await expectSameAnswers(introspection, library, [lean, leanOnly]);
    expect(await pathCount(lean, 'gateway')).toBe(before + 2);
  });

  it('answers as the library does when the second subgraph is unreachable', async () => {
    for (const query of [
      '{ me { id memberships { role org { id name } } } }',
      '{ me { memberships { org { id status } } } }',
      '{ me { id quota } }',
    ]) {
      const before = await pathCount(deadLean, 'lean');
      const answer = await expectSameAnswers({ query }, deadLibrary, [deadLean]);
      expect(answer.errors?.length).toBeGreaterThan(0);
      expect(await pathCount(deadLean, 'lean')).toBe(before + 1);
    }
  });
});
