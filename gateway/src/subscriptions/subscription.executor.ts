import { createHash } from 'node:crypto';
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
} from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { WebSocket } from 'ws';
import type { Logger } from '../../../lib/logger.js';
import type { SubscriptionPlanner } from './subscription.planner.js';
import type { SubscriptionMetrics } from './subscription.metrics.js';

/** Service name of the per-event data source that stands in for the primary subscription fetch. */
const EVENT_SERVICE = '__subscription_event__';

/** One client's view of a shared stream: a bounded, conflating queue read as an async iterator. */
export class SubscriberQueue implements AsyncIterableIterator<ExecutionResult> {
  private readonly pending = new Map<string, ExecutionResult>();
  private waiter: ((r: IteratorResult<ExecutionResult>) => void) | undefined;
  private done = false;
  private seq = 0;
  /** Set by the stream; called once when the consumer stops. */
  onReturn: (() => void) | undefined;

  constructor(
    private readonly maxPending: number,
    private readonly metrics: SubscriptionMetrics,
  ) {}

  /**
   * Queues an event. Events with the same key replace each other while waiting (latest wins), so a
   * slow client gets conflated updates instead of an ever-growing backlog.
   * @returns false when the queue overflowed even after conflation (the client is too far behind)
   */
  push(result: ExecutionResult, key: string | undefined): boolean {
    if (this.done) return true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: result, done: false });
      return true;
    }
    const k = key ?? `#${this.seq++}`;
    if (this.pending.has(k)) {
      this.pending.delete(k);
      this.metrics.conflated.inc();
    }
    this.pending.set(k, result);
    if (this.pending.size > this.maxPending) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
      this.metrics.dropped.inc();
      return false;
    }
    return true;
  }

  /** Ends the iterator after the queued events are delivered. */
  end(): void {
    this.done = true;
    if (this.waiter && this.pending.size === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    const first = this.pending.entries().next();
    if (!first.done) {
      this.pending.delete(first.value[0]);
      return Promise.resolve({ value: first.value[1], done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.done = true;
    this.pending.clear();
    const w = this.waiter;
    this.waiter = undefined;
    w?.({ value: undefined, done: true });
    const cb = this.onReturn;
    this.onReturn = undefined;
    cb?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** What one subscribe call needs. */
export interface SubscribeRequest {
  document: DocumentNode;
  source: string;
  operationName: string | undefined;
  variables: Record<string, unknown>;
  /** `Bearer ...` of the subscriber; used for the upstream stream it opens and the per-event fetches. */
  authorization: string;
  /** Identity the stream is shared within (same user and tenant). */
  scope: string;
  requestId: string;
}

interface SharedStream {
  key: string;
  subscribers: Set<SubscriberQueue>;
  authorization: string;
  client: Client;
  dispose: () => void;
  rootField: string | undefined;
}

export interface ExecutorOptions {
  planner: () => SubscriptionPlanner;
  /** HTTP URL of a subgraph's GraphQL endpoint, by service name. */
  subgraphUrl: (name: string) => string;
  logger: Logger;
  metrics: SubscriptionMetrics;
  /** Events a slow client may have waiting before it is disconnected. @default 256 */
  maxPendingPerClient?: number;
}

/**
 * Executes federated subscriptions: one upstream graphql-ws stream per (document, variables, scope),
 * shared by every identical subscriber; for each event the plan's `rest` runs once through Apollo's
 * own executor (`executeQueryPlan` on `Sequence[primary-as-event, rest]`), and the completed result
 * goes to every subscriber's conflating queue.
 */
export class FederatedSubscriptionExecutor {
  private readonly streams = new Map<string, SharedStream>();
  private readonly dataSources = new Map<string, GraphQLDataSource>();

  constructor(private readonly opts: ExecutorOptions) {}

  /** Number of upstream streams currently open (for tests and metrics). */
  get upstreamCount(): number {
    return this.streams.size;
  }

  /**
   * Subscribes one client.
   * @param onOverflow called when the client fell too far behind; the caller closes its socket
   */
  subscribe(req: SubscribeRequest, onOverflow: () => void): AsyncIterableIterator<ExecutionResult> {
    const planner = this.opts.planner();
    const { primary, rest } = planner.plan(req.document, req.source, req.operationName);
    const variables = pick(req.variables, primary.variableUsages ?? []);
    const key = createHash('sha256')
      .update(JSON.stringify([req.source, req.operationName ?? null, req.variables, req.scope]))
      .digest('hex');
    const queue = new SubscriberQueue(this.opts.maxPendingPerClient ?? 256, this.opts.metrics);
    let stream = this.streams.get(key);
    if (!stream) {
      stream = this.open(key, req, primary, rest, variables);
    }
    const s = stream;
    s.subscribers.add(queue);
    this.opts.metrics.active.inc();
    queue.onReturn = () => {
      this.opts.metrics.active.dec();
      s.subscribers.delete(queue);
      if (s.subscribers.size === 0) this.close(s);
    };
    const originalPush = queue.push.bind(queue);
    queue.push = (result, k) => {
      const ok = originalPush(result, k);
      if (!ok) onOverflow();
      return ok;
    };
    return queue;
  }

  /** Closes every upstream stream and ends every subscriber. */
  stop(): void {
    for (const s of [...this.streams.values()]) {
      for (const q of s.subscribers) q.end();
      this.close(s);
    }
  }

  private open(
    key: string,
    req: SubscribeRequest,
    primary: FetchNode,
    rest: PlanNode | undefined,
    variables: Record<string, unknown>,
  ): SharedStream {
    const url = this.opts.subgraphUrl(primary.serviceName).replace(/^http/, 'ws');
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 3,
      connectionParams: () => ({ authorization: stream.authorization }),
    });
    const stream: SharedStream = {
      key,
      subscribers: new Set(),
      authorization: req.authorization,
      client,
      dispose: () => undefined,
      rootField: undefined,
    };
    this.streams.set(key, stream);
    this.opts.metrics.upstreams.inc();
    // Events are completed in arrival order, one at a time, so `rest` never reorders ticks.
    let chain = Promise.resolve();
    stream.dispose = client.subscribe<Record<string, unknown>>(
      {
        query: primary.operation,
        variables,
        ...(primary.operationName ? { operationName: primary.operationName } : {}),
      },
      {
        next: (event) => {
          this.opts.metrics.eventsIn.inc();
          chain = chain
            .then(async () => {
              const result = rest
                ? await this.complete(req, primary, rest, event as FormattedExecutionResult)
                : (event as ExecutionResult);
              this.fanOut(stream, result);
            })
            .catch((err: unknown) => {
              this.opts.logger.error({ err }, 'subscription event completion failed');
            });
        },
        error: (err: unknown) => {
          this.opts.logger.warn({ err: describe(err) }, 'upstream subscription failed');
          const result: ExecutionResult = {
            errors: [
              new GraphQLError('Subscription source failed', {
                extensions: { code: 'INTERNAL_SERVER_ERROR' },
              }),
            ],
          };
          void chain.then(() => {
            this.fanOut(stream, result);
            for (const q of stream.subscribers) q.end();
            this.close(stream);
          });
        },
        complete: () => {
          void chain.then(() => {
            for (const q of stream.subscribers) q.end();
            this.close(stream);
          });
        },
      },
    );
    return stream;
  }

  private close(stream: SharedStream): void {
    if (this.streams.get(stream.key) !== stream) return;
    this.streams.delete(stream.key);
    this.opts.metrics.upstreams.dec();
    stream.dispose();
    void stream.client.dispose();
  }

  private fanOut(stream: SharedStream, result: ExecutionResult): void {
    const data = result.data as Record<string, unknown> | null | undefined;
    const root = data ? Object.values(data)[0] : undefined;
    const obj = root && typeof root === 'object' ? (root as Record<string, unknown>) : undefined;
    const k = obj?.['symbol'] ?? obj?.['id'];
    const conflationKey = typeof k === 'string' || typeof k === 'number' ? String(k) : '';
    for (const q of stream.subscribers) {
      q.push(result, conflationKey === '' ? undefined : conflationKey);
      this.opts.metrics.eventsOut.inc();
    }
  }

  /** Runs the plan's `rest` for one event with Apollo's executor; the event stands in for the primary fetch. */
  private async complete(
    req: SubscribeRequest,
    primary: FetchNode,
    rest: PlanNode,
    event: FormattedExecutionResult,
  ): Promise<ExecutionResult> {
    if (!event.data) return event as ExecutionResult;
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
      context: { authorization: req.authorization, requestId: req.requestId },
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

function serviceNames(node: PlanNode): Set<string> {
  const out = new Set<string>();
  const walk = (n: PlanNode): void => {
    switch (n.kind) {
      case 'Fetch':
        out.add(n.serviceName);
        break;
      case 'Flatten':
        walk(n.node);
        break;
      case 'Sequence':
      case 'Parallel':
        n.nodes.forEach(walk);
        break;
      case 'Condition':
        if (n.ifClause) walk(n.ifClause);
        if (n.elseClause) walk(n.elseClause);
        break;
      case 'Defer':
        if (n.primary.node) walk(n.primary.node);
        for (const d of n.deferred) if (d.node) walk(d.node);
        break;
    }
  };
  walk(node);
  return out;
}

function describe(err: unknown): unknown {
  if (err instanceof Error) return { message: err.message };
  if (err && typeof err === 'object' && 'code' in err) {
    return { code: err.code, reason: (err as { reason?: unknown }).reason };
  }
  return err;
}
