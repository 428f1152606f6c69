import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Metrics every HTTP service exports, registered on an injected registry. */
export interface HttpMetrics {
  registry: Registry;
  requestDuration: Histogram<'method' | 'route' | 'status'>;
  graphqlErrors: Counter<'code'>;
  graphqlPipeline: Counter<'path'>;
}

/**
 * A registry with process metrics and the shared HTTP metrics, labelled with the service name.
 * @param service e.g. `auth`; becomes the `service` default label
 */
export function createMetrics(service: string): HttpMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    graphqlErrors: new Counter({
      name: 'graphql_errors_total',
      help: 'GraphQL errors returned, by code',
      labelNames: ['code'],
      registers: [registry],
    }),
    graphqlPipeline: new Counter({
      name: 'graphql_pipeline_total',
      help: "GraphQL POSTs by the pipeline that answered them: lean (lib/lean-graphql.ts, for documents already validated) or apollo (Apollo Server's, which the lean pipeline also hands requests to)",
      labelNames: ['path'],
      registers: [registry],
    }),
  };
}
