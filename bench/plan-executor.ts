/**
 * The gateway's executors alone (issue 15): Apollo Server's `executeOperation` over the committed
 * supergraph, subgraphs answered from memory (canned JSON, parsed per fetch as the real data source
 * does), so the CPU per operation is Apollo Server's pipeline plus the executor, with no HTTP. Per
 * query: @apollo/gateway's executor, then the lean executor (gateway/src/plan-executor.ts) and the
 * single-fetch path where they apply, alternating rounds. Noise-resistant A/B for executor work.
 * Run: `npx tsx bench/plan-executor.ts [rounds=5] [operations per round=4000]`.
 */
import { readFileSync } from 'node:fs';
import { ApolloGateway, type GraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { SingleFetchGateway } from '../gateway/src/single-fetch.gateway.js';

const QUERIES = {
  'one subgraph': '{ me { id email } }',
  'two subgraphs': '{ me { id email memberships { role tenant { id organizationName status } } } }',
};

/**
 * What each fetch gets (one membership, as in the deployed bench). The two-subgraph query is planned
 * as auth's `me`, then tenants' `_entities` for that User (its memberships and their tenants).
 */
const ME = { id: 'u1', email: 'bench@example.com' };
const ROOT = JSON.stringify({ data: { me: { __typename: 'User', ...ME } } });
const ROOT_ONE = JSON.stringify({ data: { me: ME } });
const ENTITIES = JSON.stringify({
  data: {
    _entities: [
      {
        memberships: [{ role: 'OWNER', tenant: { id: 't1', organizationName: 'Bench 1', status: 'ACTIVE' } }],
      },
    ],
  },
});

const source: GraphQLDataSource = {
  process: ({ request }) => {
    const query = request.query ?? '';
    const text = query.includes('_entities') ? ENTITIES : query.includes('__typename') ? ROOT : ROOT_ONE;
    return Promise.resolve(JSON.parse(text) as Awaited<ReturnType<GraphQLDataSource['process']>>);
  },
};

type Side = 'gateway' | 'lean' | 'single-fetch' | 'sf, no cc';

async function server(side: Side): Promise<ApolloServer> {
  const supergraphSdl = readFileSync(new URL('../schema/supergraph.graphql', import.meta.url), 'utf8');
  const apollo = new ApolloGateway({ supergraphSdl, buildService: () => source });
  const gateway =
    side === 'gateway'
      ? apollo
      : new SingleFetchGateway(apollo, {
          supergraphSdl: () => supergraphSdl,
          dataSource: () => source,
          paths: { singleFetch: side !== 'lean', lean: true },
        });
  // `sf, no cc`: the single-fetch path with Apollo's cache-control plugin off, as the gateway runs it.
  const plugins = side === 'sf, no cc' ? [ApolloServerPluginCacheControlDisabled()] : [];
  const s = new ApolloServer({ gateway, stopOnTerminationSignals: false, plugins });
  await s.start();
  return s;
}

async function cpuPerOperation(s: ApolloServer, query: string, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const res = await s.executeOperation({ query });
    if (res.body.kind !== 'single' || res.body.singleResult.errors || res.body.singleResult.extensions) {
      throw new Error(`unexpected answer ${JSON.stringify(res.body)}`);
    }
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

async function main(): Promise<void> {
  const [rounds = 5, n = 4000] = process.argv
    .slice(2)
    .filter((a) => !a.startsWith('--'))
    .map(Number);
  // `--sides=single-fetch,sf, no cc`: only these (for a profile of one path: `node --cpu-prof --import tsx ...`).
  const only = process.argv.find((a) => a.startsWith('--sides='))?.slice(8);
  const all: Side[] = ['gateway', 'lean', 'single-fetch', 'sf, no cc'];
  const sides = only ? all.filter((s) => only.split(/,(?! )/).includes(s)) : all;
  const servers = new Map<Side, ApolloServer>();
  for (const side of sides) servers.set(side, await server(side));
  for (const [name, query] of Object.entries(QUERIES)) {
    const results = new Map<Side, number[]>(sides.map((s) => [s, []]));
    // Warm-up: plans, JIT.
    for (const side of sides) await cpuPerOperation(servers.get(side)!, query, 500);
    for (let r = 0; r < rounds; r++) {
      for (const side of sides) results.get(side)?.push(await cpuPerOperation(servers.get(side)!, query, n));
    }
    console.log(`${name}: ${query}`);
    for (const side of sides) {
      const v = [...(results.get(side) ?? [])].sort((a, b) => a - b);
      const median = v[Math.floor(v.length / 2)] ?? 0;
      console.log(
        `  ${side.padEnd(13)} median ${median.toFixed(1)} µs/op  (${v.map((x) => x.toFixed(0)).join(', ')})`,
      );
    }
  }
  for (const s of servers.values()) await s.stop();
}

await main();
