import { createHash } from 'node:crypto';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import {
  RemoteGraphQLDataSource,
  buildOperationContext,
  executeQueryPlan,
  type GraphQLDataSource,
  type ServiceMap,
} from '@apollo/gateway';
import type { FetchNode, PlanNode, QueryPlan } from '@apollo/query-planner';
import type { GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import {
  GraphQLError,
  type DocumentNode,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import type { Logger } from '../../../lib/logger.js';
import { SpanKind, tracingEnabled, withSpan } from '../../../lib/telemetry.js';
import {
  isPublicPlan,
  serviceNames,
  type PlannedSubscription,
  type SubscriptionPlanner,
} from './subscription.planner.js';
import type { SubscriptionMetrics } from './subscription.metrics.js';
import type { EncodedEvent, SubscriptionSink } from './subscription.subscriber.js';
import { UpstreamPool, type UpstreamConnection, type UpstreamMember } from './subscription.upstream.js';
import { ErrorCode } from '../../../lib/errors.js';

/** Service name of the per-event data source that stands in for the primary subscription fetch. */
const EVENT_SERVICE = '__subscription_event__';

/** What one subscribe call needs. */
export interface SubscribeRequest {
  document: DocumentNode;
  source: string;
  operationName: string | undefined;
  variables: Record<string, unknown>;
  /** `Bearer ...` of the subscriber; used for the upstream stream it opens and the per-event fetches. */
  authorization: string;
  /** Expiry of that token (epoch seconds): a shared stream prefers the subscriber's token that lives longest. */
  expiresAt: number;
  /** Identity a caller-dependent stream is shared within (same tenant, user and role). */
  scope: string;
  requestId: string;
}

interface Registration {
  authorization: string;
  expiresAt: number;
}

interface SharedStream extends UpstreamMember {
  key: string;
  /** Shared across users (public plan): the upstream token is any subscriber's and may be swapped. */
  public: boolean;
  plan: PlannedSubscription;
  variables: Record<string, unknown>;
  request: SubscribeRequest;
  subscribers: Map<SubscriptionSink, Registration>;
  /** Token of the per-event fetches of `rest` (one of the subscribers'). */
  authorization: string;
  /** The pooled upstream connection the subscription runs on. */
  upstream: UpstreamConnection<SharedStream>;
  /** Bumped on every (re)subscribe upstream, so callbacks of an abandoned attempt are ignored. */
  attempt: number;
  dispose: () => void;
  /** Upstream reopened after an auth close, recently (bounded, so a bad token cannot loop). */
  reopens: number[];
  closed: boolean;
}

/** Options of {@link FederatedSubscriptionExecutor}. */
export interface ExecutorOptions {
  planner: () => SubscriptionPlanner;
  /** HTTP URL of a subgraph's GraphQL endpoint, by service name. */
  subgraphUrl: (name: string) => string;
  logger: Logger;
  metrics: SubscriptionMetrics;
  /**
   * Upstream graphql-ws sockets per (subgraph, auth scope) that subscriptions are multiplexed over.
   * @default 2
   */
  upstreamSocketsPerScope?: number;
  /**
   * Formats an event's errors once per event (domain codes kept, anything else masked) before it is
   * serialized for every subscriber. @default errors passed through as they are
   */
  formatError?: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /**
   * Headers sent on every upstream WebSocket upgrade and every per-event subgraph fetch (the gateway's
   * ingress credential). @default none
   */
  upstreamHeaders?: Readonly<Record<string, string>>;
  /**
   * Share of events traced (lib/telemetry, when on): a sampled event is a span of its own trace,
   * from its arrival upstream to its frame being handed to every subscriber, with the per-event
   * fetches of `rest` below it. @default 0
   */
  traceEventRatio?: number;
}

/**
 * Executes federated subscriptions. Identical subscriptions share one upstream graphql-ws stream:
 * same document and variables, and the same caller scope, except for public plans
 * ({@link isPublicPlan}: public market data) which every authenticated caller shares, whatever the
 * user or tenant. For each event the plan's `rest` runs once per stream through Apollo's own executor
 * (`executeQueryPlan` on `Sequence[primary-as-event, rest]`), the result is serialized once, and the
 * same payload goes to every subscriber ({@link SubscriptionSink}).
 */
export class FederatedSubscriptionExecutor {
  private readonly streams = new Map<string, SharedStream>();
  private readonly dataSources = new Map<string, GraphQLDataSource>();
  private readonly pool: UpstreamPool<SharedStream>;

  constructor(private readonly opts: ExecutorOptions) {
    this.pool = new UpstreamPool({
      url: (name) => opts.subgraphUrl(name).replace(/^http/, 'ws'),
      socketsPerScope: opts.upstreamSocketsPerScope ?? 2,
      sockets: opts.metrics.upstreamSockets,
      ...(opts.upstreamHeaders ? { headers: opts.upstreamHeaders } : {}),
    });
  }

  /** Number of upstream streams currently open (for tests and metrics). */
  get upstreamCount(): number {
    return this.streams.size;
  }

  /**
   * Subscribes one client: `sink` receives every event of the (possibly shared) stream until the
   * stream ends (`sink.end()`) or the client stops (`sink.onReturn`, set here).
   * @throws when the operation cannot be planned
   */
  subscribe(req: SubscribeRequest, sink: SubscriptionSink): void {
    const planner = this.opts.planner();
    const plan = planner.plan(req.document, req.source, req.operationName);
    const shared = isPublicPlan(plan);
    const key = createHash('sha256')
      .update(
        JSON.stringify([
          req.source,
          req.operationName ?? null,
          req.variables,
          shared ? '*public*' : req.scope,
        ]),
      )
      .digest('hex');
    const stream = this.streams.get(key) ?? this.open(key, req, plan, shared);
    stream.subscribers.set(sink, { authorization: req.authorization, expiresAt: req.expiresAt });
    this.opts.metrics.active.inc();
    sink.onReturn = () => {
      const reg = stream.subscribers.get(sink);
      // Already gone when the stream ended on its own (endAll).
      if (!reg) return;
      this.opts.metrics.active.dec();
      stream.subscribers.delete(sink);
      if (stream.subscribers.size === 0) {
        this.close(stream);
        return;
      }
      // The upstream keeps a token of someone still subscribed (used when it reconnects, and for `rest`).
      if (reg.authorization === stream.authorization) stream.authorization = this.bestToken(stream);
    };
  }

  /** Upstream connections in the pool (for tests). */
  get upstreamConnectionCount(): number {
    return this.pool.connectionCount;
  }

  /** Closes every upstream stream and ends every subscriber. */
  stop(): void {
    for (const s of [...this.streams.values()]) this.endAll(s);
    this.pool.stop();
  }

  /** The stream ended: every subscriber completes (after what waits for it) and the upstream closes. */
  private endAll(stream: SharedStream): void {
    const sinks = [...stream.subscribers.keys()];
    stream.subscribers.clear();
    this.opts.metrics.active.dec(sinks.length);
    for (const sink of sinks) sink.end();
    this.close(stream);
  }

  private open(key: string, req: SubscribeRequest, plan: PlannedSubscription, shared: boolean): SharedStream {
    const upstream = this.pool.acquire(plan.primary.serviceName, shared ? '*public*' : req.scope);
    const stream: SharedStream = {
      key,
      public: shared,
      plan,
      variables: pick(req.variables, plan.primary.variableUsages ?? []),
      request: req,
      subscribers: new Map<SubscriptionSink, Registration>(),
      authorization: req.authorization,
      attempt: 0,
      dispose: () => undefined,
      reopens: [],
      closed: false,
      upstream,
      registrations: () => stream.subscribers.values(),
    };
    upstream.members.add(stream);
    this.streams.set(key, stream);
    this.opts.metrics.upstreams.inc();
    this.connect(stream);
    return stream;
  }

  /** Subscribes (or subscribes again) upstream, on the stream's pooled connection. */
  private connect(stream: SharedStream): void {
    const { primary, rest } = stream.plan;
    const client = stream.upstream.client;
    const attempt = ++stream.attempt;
    // Events are completed in arrival order, one at a time, so `rest` never reorders ticks.
    let chain = Promise.resolve();
    stream.dispose = client.subscribe<Record<string, unknown>>(
      {
        query: primary.operation,
        variables: stream.variables,
        ...(primary.operationName ? { operationName: primary.operationName } : {}),
      },
      {
        next: (event) => {
          this.opts.metrics.eventsIn.inc();
          const handle = async (): Promise<void> => {
            const result = rest
              ? await this.complete(stream, rest, event as FormattedExecutionResult)
              : (event as ExecutionResult);
            this.fanOut(stream, result);
          };
          chain = chain
            .then(() => (this.sampleEvent() ? this.tracedEvent(stream, handle) : handle()))
            .catch((err: unknown) => {
              this.opts.logger.error({ err }, 'subscription event completion failed');
            });
        },
        error: (err: unknown) => {
          if (attempt !== stream.attempt || stream.closed) return;
          if (this.reopenAfterAuthClose(stream, err)) return;
          this.opts.logger.warn({ err: describe(err) }, 'upstream subscription failed');
          const result: ExecutionResult = {
            errors: [
              new GraphQLError('Subscription source failed', {
                extensions: { code: ErrorCode.Internal },
              }),
            ],
          };
          void chain.then(() => {
            this.fanOut(stream, result);
            this.endAll(stream);
          });
        },
        complete: () => {
          if (attempt !== stream.attempt || stream.closed) return;
          void chain.then(() => this.endAll(stream));
        },
      },
    );
  }

  /**
   * A stream's upstream was closed for its token (expired, or its session revoked): the other
   * subscribers (other users on a public stream, other sessions of the same user otherwise) are still
   * entitled to the events, so the stream reconnects with another subscriber's token instead of failing
   * everyone. At most 5 times a minute.
   */
  private reopenAfterAuthClose(stream: SharedStream, err: unknown): boolean {
    const code = err && typeof err === 'object' && 'code' in err ? err.code : undefined;
    if (code !== CloseCode.Unauthorized && code !== CloseCode.Forbidden) return false;
    const now = Date.now();
    stream.reopens = stream.reopens.filter((t) => now - t < 60_000);
    const refused = stream.upstream.refused;
    const others = [...stream.subscribers.values()].filter((r) => !refused.has(r.authorization));
    if (others.length === 0 || stream.reopens.length >= 5) return false;
    stream.reopens.push(now);
    stream.authorization = this.bestToken(stream);
    this.opts.logger.info(
      { code, public: stream.public, subscribers: stream.subscribers.size },
      'upstream subscription closed for its token; reconnecting with another subscriber token',
    );
    stream.dispose();
    this.connect(stream);
    return true;
  }

  /** The subscriber token that lives longest and was not refused upstream. */
  private bestToken(stream: SharedStream): string {
    let best: Registration | undefined;
    for (const r of stream.subscribers.values()) {
      if (stream.upstream.refused.has(r.authorization)) continue;
      if (!best || r.expiresAt > best.expiresAt) best = r;
    }
    return best?.authorization ?? stream.authorization;
  }

  private close(stream: SharedStream): void {
    if (this.streams.get(stream.key) !== stream) return;
    stream.closed = true;
    this.streams.delete(stream.key);
    this.opts.metrics.upstreams.dec();
    stream.dispose();
    this.pool.release(stream.upstream, stream);
  }

  /** Whether this event gets a span: only with tracing on, and for a sample of events. */
  private sampleEvent(): boolean {
    const ratio = this.opts.traceEventRatio ?? 0;
    return ratio > 0 && tracingEnabled() && Math.random() < ratio;
  }

  /** One event as the root span of its own trace (an upstream event carries no trace context). */
  private tracedEvent(stream: SharedStream, handle: () => Promise<void>): Promise<void> {
    const attributes = {
      'graphql.operation.type': 'subscription',
      'graphql.operation.name': stream.request.operationName ?? '',
      'tradesage.subscription.subscribers': stream.subscribers.size,
    };
    return withSpan(
      'subscription event',
      { kind: SpanKind.CONSUMER, attributes, parent: ROOT_CONTEXT, root: true },
      handle,
    );
  }

  /** Serializes one event once and hands the same payload to every subscriber of the stream. */
  private fanOut(stream: SharedStream, result: ExecutionResult | FormattedExecutionResult): void {
    if (stream.subscribers.size === 0) return;
    const data = result.data as Record<string, unknown> | null | undefined;
    const root = data ? Object.values(data)[0] : undefined;
    const obj = root && typeof root === 'object' ? (root as Record<string, unknown>) : undefined;
    const k = obj?.['symbol'] ?? obj?.['id'];
    const key = typeof k === 'string' || typeof k === 'number' ? String(k) : undefined;
    const errors = result.errors?.map((e) => {
      const formatted = e instanceof GraphQLError ? e.toJSON() : e;
      return this.opts.formatError ? this.opts.formatError(formatted, e) : formatted;
    });
    const payload = {
      ...(result.data !== undefined ? { data: result.data } : {}),
      ...(errors ? { errors } : {}),
    };
    const event: EncodedEvent = { json: JSON.stringify(payload), key };
    for (const sink of stream.subscribers.keys()) sink.deliver(event);
    this.opts.metrics.eventsOut.inc(stream.subscribers.size);
  }

  /** Runs the plan's `rest` for one event with Apollo's executor; the event stands in for the primary fetch. */
  private async complete(
    stream: SharedStream,
    rest: PlanNode,
    event: FormattedExecutionResult,
  ): Promise<ExecutionResult> {
    if (!event.data) return event as ExecutionResult;
    const { request: req } = stream;
    const primary = stream.plan.primary;
    // A token refused upstream (expired, revoked) is not used for the per-event fetches either.
    if (stream.upstream.refused.has(stream.authorization)) stream.authorization = this.bestToken(stream);
    const planner = this.opts.planner();
    const eventSource: GraphQLDataSource = {
      process: () =>
        Promise.resolve({ data: event.data ?? null, ...(event.errors ? { errors: event.errors } : {}) }),
    };
    const serviceMap: ServiceMap = { [EVENT_SERVICE]: eventSource };
    for (const name of serviceNames(rest)) serviceMap[name] = this.dataSource(name);
    const queryPlan: QueryPlan = {
      kind: 'QueryPlan',
      node: {
        kind: 'Sequence',
        nodes: [
          { ...primary, serviceName: EVENT_SERVICE, operationKind: 'query' as FetchNode['operationKind'] },
          rest,
        ],
      },
    };
    const operationContext = buildOperationContext({
      schema: planner.schema,
      operationDocument: req.document,
      ...(req.operationName ? { operationName: req.operationName } : {}),
    });
    // executeQueryPlan reads the request (variables), the context handed to data sources and optional
    // metrics; the rest of Apollo Server's request context is not used on this path.
    const requestContext = {
      request: { query: req.source, variables: req.variables, operationName: req.operationName },
      context: { authorization: stream.authorization, requestId: req.requestId },
      metrics: {},
      logger: this.opts.logger,
      cache: undefined,
      overallCachePolicy: undefined,
    } as unknown as GatewayGraphQLRequestContext;
    const result = await executeQueryPlan(
      queryPlan,
      serviceMap,
      requestContext,
      operationContext,
      planner.supergraphSchema,
      planner.apiSchema,
    );
    return {
      data: result.data ?? null,
      ...(result.errors ? { errors: result.errors } : {}),
    };
  }

  private dataSource(name: string): GraphQLDataSource {
    let ds = this.dataSources.get(name);
    if (!ds) {
      ds = new RemoteGraphQLDataSource<{ authorization?: string; requestId?: string }>({
        url: this.opts.subgraphUrl(name),
        willSendRequest: ({ request, context }) => {
          for (const [k, v] of Object.entries(this.opts.upstreamHeaders ?? {}))
            request.http?.headers.set(k, v);
          const c = context as { authorization?: string; requestId?: string };
          if (c.authorization) request.http?.headers.set('authorization', c.authorization);
          if (c.requestId) request.http?.headers.set('x-request-id', c.requestId);
        },
      });
      this.dataSources.set(name, ds);
    }
    return ds;
  }
}

function pick(vars: Record<string, unknown>, names: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) if (n in vars) out[n] = vars[n];
  return out;
}

function describe(err: unknown): unknown {
  if (err instanceof Error) return { message: err.message };
  if (err && typeof err === 'object' && 'code' in err) {
    return { code: err.code, reason: (err as { reason?: unknown }).reason };
  }
  return err;
}
