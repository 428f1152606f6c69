import { Counter, Histogram } from 'prom-client';
import type { HttpMetrics } from '../../lib/metrics.js';

/** Why a token was refused (few values on purpose: they are label values). */
/** Why a token was refused; `unavailable`: it could not be checked (keys or session), retryable. */
export type AuthFailureReason = 'malformed' | 'expired' | 'revoked' | 'invalid' | 'unavailable';

/** The gateway's own metrics, on the service registry next to the shared HTTP metrics. */
export interface GatewayMetrics {
  http: HttpMetrics;
  requestDuration: Histogram<'operation_type'>;
  rateLimited: Counter<'scope'>;
  authFailures: Counter<'reason'>;
  supergraphReloads: Counter<'result'>;
  sharedFetches: Counter;
  queryPath: Counter<'path'>;
  limitRefusals: Counter<'limit'>;
  refusedFromMemory: Counter;
  firstSightWaits: Counter;
  queryCost: Histogram;
}

/** Registers the gateway metrics on `http.registry`. */
export function createGatewayMetrics(http: HttpMetrics): GatewayMetrics {
  const registers = [http.registry];
  return {
    http,
    requestDuration: new Histogram({
      name: 'gateway_request_duration_seconds',
      help: 'GraphQL requests through the gateway, by operation type (unknown when refused before parsing)',
      labelNames: ['operation_type'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    rateLimited: new Counter({
      name: 'gateway_rate_limited_total',
      help: 'Requests refused by the gateway rate limits, by scope (ip, user, tenant)',
      labelNames: ['scope'],
      registers,
    }),
    authFailures: new Counter({
      name: 'gateway_auth_failures_total',
      help: 'Requests whose Authorization header was refused, by reason (unavailable: keys or session could not be checked)',
      labelNames: ['reason'],
      registers,
    }),
    supergraphReloads: new Counter({
      name: 'gateway_supergraph_reloads_total',
      help: 'Supergraph file reloads, by result (ok, failed)',
      labelNames: ['result'],
      registers,
    }),
    sharedFetches: new Counter({
      name: 'gateway_subgraph_fetches_shared_total',
      help: 'Subgraph fetches answered by an identical fetch already in flight',
      registers,
    }),
    queryPath: new Counter({
      name: 'gateway_query_path_total',
      help: "Operations by how the gateway executed them: single-fetch (one subgraph fetch, answer passed through), lean (the query plan on the lean executor) or gateway (@apollo/gateway's executor)",
      labelNames: ['path'],
      registers,
    }),
    limitRefusals: new Counter({
      name: 'gateway_limit_refusals_total',
      help: 'Operations refused by a gateway limit before any subgraph call, by limit (size, tokens, depth, aliases, directives, cost, cost_budget, apq_registration, persisted_only)',
      labelNames: ['limit'],
      registers,
    }),
    refusedFromMemory: new Counter({
      name: 'gateway_refusals_from_memory_total',
      help: 'Repeated documents refused by a shape limit answered from memory, before parsing (also counted in gateway_limit_refusals_total)',
      registers,
    }),
    firstSightWaits: new Counter({
      name: 'gateway_first_sight_waits_total',
      help: "Requests that waited for a concurrent request's first validation of the same document instead of validating it again",
      registers,
    }),
    queryCost: new Histogram({
      name: 'gateway_query_cost_points',
      help: 'Static cost of the operations the gateway resolved (gateway/src/query-cost.ts), refused ones included',
      buckets: [10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000, 1_000_000],
      registers,
    }),
  };
}

/** Maps lib/auth's UNAUTHENTICATED messages to a metric label. */
export function authFailureReason(message: string): AuthFailureReason {
  if (message.startsWith('Malformed')) return 'malformed';
  if (message.includes('expired') && message.startsWith('Access token')) return 'expired';
  if (message.startsWith('Session')) return 'revoked';
  return 'invalid';
}
