/**
 * The lean executor against @apollo/gateway's, below the gateway's error formatter: Apollo Server's
 * `executeOperation` over two subgraphs executed in this process (their real schemas and resolvers,
 * answers passed through JSON as over HTTP), so error messages, paths and extensions
 * (`serviceName`, codes) are compared unmasked, as is a fetch that throws. The HTTP comparison is
 * gateway/test/lean-executor.int.test.ts.
 */
import { ApolloGateway, type GraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { execute, parse, type GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeSupergraph } from '../test/support/harness.js';
import {
  accountsTypeDefs,
  createTwoSubgraphs,
  orgsTypeDefs,
  TWO_SUBGRAPH_CASES,
} from '../test/support/two-subgraphs.js';
import { SingleFetchGateway, type QueryPath } from './single-fetch.gateway.js';

type Response = Awaited<ReturnType<GraphQLDataSource['process']>>;

/** A subgraph executed in process; `down` makes every fetch throw as an unreachable one does. */
function inProcess(schema: GraphQLSchema, state: { down: boolean }): GraphQLDataSource {
  return {
    async process({ request }) {
      if (state.down) throw new Error('connect ECONNREFUSED 127.0.0.1:1');
      const result = await execute({
        schema,
        document: parse(request.query ?? ''),
        variableValues: request.variables ?? {},
        ...(request.operationName ? { operationName: request.operationName } : {}),
      });
      return JSON.parse(JSON.stringify(result)) as Response;
    },
  };
}

const orgsState = { down: false };
const paths: QueryPath[] = [];
let library: ApolloServer;
let lean: ApolloServer;

beforeAll(async () => {
  const resolvers = createTwoSubgraphs();
  const schema = (typeDefs: string, r: object) =>
    buildSubgraphSchema({ typeDefs: parse(typeDefs), resolvers: r as GraphQLResolverMap<unknown> });
  const sources: Record<string, GraphQLDataSource> = {
    accounts: inProcess(schema(accountsTypeDefs, resolvers.accounts), { down: false }),
    orgs: inProcess(schema(orgsTypeDefs, resolvers.orgs), orgsState),
  };
  const supergraphSdl = composeSupergraph([
    { name: 'accounts', url: 'http://accounts.invalid/graphql', typeDefs: accountsTypeDefs },
    { name: 'orgs', url: 'http://orgs.invalid/graphql', typeDefs: orgsTypeDefs },
  ]);
  const gateway = () =>
    new ApolloGateway({ supergraphSdl, buildService: ({ name }) => sources[name] ?? sources['accounts']! });
  const server = async (g: ConstructorParameters<typeof ApolloServer>[0]['gateway']) => {
    const s = new ApolloServer({
      gateway: g!,
      includeStacktraceInErrorResponses: false,
      stopOnTerminationSignals: false,
    });
    await s.start();
    return s;
  };
  library = await server(gateway());
  lean = await server(
    new SingleFetchGateway(gateway(), {
      supergraphSdl: () => supergraphSdl,
      dataSource: (name) => sources[name],
      onPath: (p) => paths.push(p),
      paths: { singleFetch: false, lean: true },
    }),
  );
});

afterAll(async () => {
  await lean?.stop();
  await library?.stop();
});

/** Both executors' answers to `body`, serialized. */
async function answers(body: (typeof TWO_SUBGRAPH_CASES)[number]['body']): Promise<[string, string]> {
  const request = {
    query: body.query,
    ...(body.variables ? { variables: body.variables } : {}),
    ...(body.operationName ? { operationName: body.operationName } : {}),
  };
  const [a, b] = await Promise.all([library.executeOperation(request), lean.executeOperation(request)]);
  return [JSON.stringify(a.body), JSON.stringify(b.body)];
}

describe('lean executor, unmasked', () => {
  it.each(TWO_SUBGRAPH_CASES)('answers $name as the library does', async ({ body }) => {
    const before = paths.length;
    const [want, got] = await answers(body);
    expect(got).toBe(want);
    expect(paths.slice(before)).toEqual(['lean']);
  });

  it('answers a second subgraph that throws as the library does', async () => {
    orgsState.down = true;
    try {
      for (const query of [
        '{ me { id memberships { role org { id name } } } }',
        '{ me { id quota } }',
        '{ orgs { id } me { name } }',
      ]) {
        const [want, got] = await answers({ query });
        expect(got).toBe(want);
        expect(want).toContain('ECONNREFUSED');
      }
    } finally {
      orgsState.down = false;
    }
  });
});
