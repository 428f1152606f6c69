/**
 * Calling a subgraph's GraphQL directly, as the gateway does: subgraphs answer only holders of the
 * service credential (lib/ingress). {@link createTestEnv} registers its namespace's credential here;
 * a test file owns exactly one namespace, so the GraphQL helpers of test/support and of each
 * subgraph's tests add {@link ingressHeaders} without being handed the config. Tests of the refusal
 * itself call `fetch` without them.
 */
import { WebSocket } from 'ws';
import type { Config } from '../../lib/config.js';
import { ingressHeaders as headersOf } from '../../lib/ingress.js';

let current: Record<string, string> | undefined;

/** Makes `config`'s credential the one {@link ingressHeaders} returns (createTestEnv calls this). */
export function useIngressOf(config: Pick<Config, 'SERVICE_TOKEN'>): void {
  current = headersOf(config);
}

/**
 * The headers that let this test file call its subgraphs directly.
 * @param config a config other than the file's namespace (rare: a test that builds its own)
 */
export function ingressHeaders(config?: Pick<Config, 'SERVICE_TOKEN'>): Record<string, string> {
  if (config) return headersOf(config);
  if (!current) throw new Error('no test namespace yet: call createTestEnv before calling a subgraph');
  return { ...current };
}

/**
 * A `ws` WebSocket class presenting {@link ingressHeaders} on the upgrade, for graphql-ws'
 * `createClient({ webSocketImpl })` against a subgraph.
 */
export function ingressWebSocket(
  config?: Pick<Config, 'SERVICE_TOKEN'>,
): new (address: string, protocols?: string | string[]) => WebSocket {
  const headers = ingressHeaders(config);
  return class extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  };
}
