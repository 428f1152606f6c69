/**
 * The subgraphs composed into the supergraph, in one place. The URL is the local default; the
 * gateway overrides it per subgraph from configuration (e.g. `AUTH_URL` in containers).
 */
export const SUBGRAPHS = [
  { name: 'auth', dir: 'subgraphs/auth', defaultUrl: 'http://127.0.0.1:8001/graphql' },
  { name: 'sessions', dir: 'subgraphs/sessions', defaultUrl: 'http://127.0.0.1:8002/graphql' },
  { name: 'tenants', dir: 'subgraphs/tenants', defaultUrl: 'http://127.0.0.1:8003/graphql' },
  { name: 'trading', dir: 'subgraphs/trading', defaultUrl: 'http://127.0.0.1:8004/graphql' },
  { name: 'market-data', dir: 'subgraphs/market-data', defaultUrl: 'http://127.0.0.1:8005/graphql' },
  { name: 'analytics', dir: 'subgraphs/analytics', defaultUrl: 'http://127.0.0.1:8006/graphql' },
] as const;

export type SubgraphName = (typeof SUBGRAPHS)[number]['name'];
