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
import { GraphQLError, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config.js';
import { createTestEnv, type TestEnv } from '../../test/support/env.js';
import { createGateway, type GatewayService } from '../src/gateway.js';
import { composeSupergraph, startEchoWorld, type EchoWorld } from './support/harness.js';

const FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7"';

const accountsTypeDefs = `${FED}, import: ["@key", "@shareable"])
type Query {
  me: User
  user(id: ID!): User
  search: [SearchResult!]!
}
type User @key(fields: "id") {
  id: ID!
  name: String!
  email: String
  plan: String!
  memberships: [Membership!]!
}
type Membership {
  role: String!
  org: Org
  strictOrg: Org!
}
type Org @key(fields: "id") {
  id: ID!
}
union SearchResult = User | Org
type Mutation {
  rename(name: String!): User
}
`;

const orgsTypeDefs = `${FED}, import: ["@key", "@external", "@requires"])
type Query {
  orgs: [Org!]!
}
type Org @key(fields: "id") {
  id: ID!
  name: String!
  status: String
  secret: String
  members: Int!
}
type User @key(fields: "id") {
  id: ID!
  plan: String! @external
  quota: Int! @requires(fields: "plan")
}
`;

interface OrgRef {
  id: string;
}

/** Orgs o1 (plain), o2 (status null, secret refused), o3 (members null: a non-null violation), gone (no entity). */
const MEMBERSHIPS = [
  { role: 'OWNER', org: { id: 'o1' }, strictOrg: { id: 'o1' } },
  { role: 'TRADER', org: { id: 'o2' }, strictOrg: { id: 'o2' } },
  { role: 'VIEWER', org: { id: 'o3' }, strictOrg: { id: 'o3' } },
  { role: 'GUEST', org: { id: 'gone' }, strictOrg: { id: 'gone' } },
  { role: 'NONE', org: null, strictOrg: { id: 'o1' } },
];

let userName = 'Ada';
const user = (id: string) => ({ id, name: userName, email: `${id}@example.com`, plan: 'pro' });

const accountsResolvers = {
  Query: {
    me: () => user('u1'),
    user: (_: unknown, { id }: { id: string }) => (id === 'nobody' ? null : user(id)),
    search: () => [
      { __typename: 'User', ...user('u2') },
      { __typename: 'Org', id: 'o1' },
    ],
  },
  User: {
    __resolveReference: (ref: { id: string }) => user(ref.id),
    memberships: (u: { id: string }) => (u.id === 'u3' ? MEMBERSHIPS.slice(0, 1) : MEMBERSHIPS),
  },
  SearchResult: { __resolveType: (o: { __typename: string }) => o.__typename },
  Mutation: {
    rename: (_: unknown, { name }: { name: string }) => {
      userName = name;
      return user('u1');
    },
  },
};

const org = (id: string) => ({ id, name: `Org ${id}`, status: id === 'o2' ? null : 'ACTIVE' });

const orgsResolvers = {
  Query: { orgs: () => [org('o1'), org('o2')] },
  Org: {
    __resolveReference: (ref: OrgRef) => (ref.id === 'gone' ? null : org(ref.id)),
    secret: (o: OrgRef) => {
      if (o.id === 'o2') throw new GraphQLError('Not your org', { extensions: { code: 'FORBIDDEN' } });
      return 'shh';
    },
    members: (o: OrgRef) => (o.id === 'o3' ? null : 3),
  },
  User: {
    __resolveReference: (ref: { id: string; plan?: string }) => ref,
    quota: (u: { plan?: string }) => (u.plan === 'pro' ? 100 : 1),
  },
};

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
  subgraphs = [
    await startSubgraph(accountsTypeDefs, accountsResolvers),
    await startSubgraph(orgsTypeDefs, orgsResolvers),
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

const cases: { name: string; body: Record<string, unknown> }[] = [
  {
    name: "the bench's shape (a root fetch, then one entity fetch)",
    body: { query: '{ me { id email memberships { role org { id name status } } } }' },
  },
  {
    name: 'aliases, fragments and __typename',
    body: {
      query: `query Q { who: me { __typename ...U ms: memberships { r: role org { __typename ... on Org { n: name } } } } }
        fragment U on User { id e: email }`,
      operationName: 'Q',
    },
  },
  {
    name: 'a subgraph error in the entity fetch (path rewritten into the answer)',
    body: { query: '{ me { memberships { org { id secret } } } }' },
  },
  {
    name: 'an entity the subgraph does not find (a non-null field left null: valueCompletion)',
    body: { query: '{ me { memberships { role org { id name } } } }' },
  },
  {
    name: 'a non-null violation inside the entity fetch',
    body: { query: '{ me { memberships { org { id members } } } }' },
  },
  {
    name: 'nulls bubbling up through non-null fields',
    body: { query: '{ me { id memberships { strictOrg { name members } } } }' },
  },
  {
    name: 'variables, and an unknown user',
    body: {
      query: 'query ($id: ID!) { user(id: $id) { name memberships { org { name } } } }',
      variables: { id: 'u3' },
    },
  },
  {
    name: 'a null root field',
    body: {
      query: 'query ($id: ID!) { user(id: $id) { name memberships { org { name } } } }',
      variables: { id: 'nobody' },
    },
  },
  {
    name: '@include on a variable (true)',
    body: {
      query: 'query ($o: Boolean!) { me { memberships { role org @include(if: $o) { name } } } }',
      variables: { o: true },
    },
  },
  {
    name: '@skip on a variable at the root',
    body: {
      query: 'query ($o: Boolean!) { me { id } orgs @skip(if: $o) { name } }',
      variables: { o: true },
    },
  },
  { name: 'parallel root fields of two subgraphs', body: { query: '{ orgs { id name } me { name } }' } },
  { name: '@requires', body: { query: '{ me { id quota memberships { org { name } } } }' } },
  {
    name: 'a union with an entity member',
    body: { query: '{ search { __typename ... on User { id name quota } ... on Org { id name status } } }' },
  },
  { name: 'a root __typename', body: { query: '{ __typename me { memberships { org { name } } } }' } },
  { name: 'a single fetch with an abstract type', body: { query: '{ search { ... on User { id } } }' } },
];

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
