/**
 * A fast path for queries the planner answers with one fetch to one subgraph: the subgraph's `data`
 * already has the client's shape, so the executor's re-shaping walk (`computeResponse`) is skipped.
 * Other plans (entity jumps, several subgraphs) run on the lean executor (plan-executor.ts), which
 * reuses the plan and parsed operation cached here. Kept for speed (BENCHMARKS.md, gateway
 * overhead); answers equal @apollo/gateway's byte for byte. Upgrading @apollo/gateway,
 * @apollo/query-planner, @apollo/federation-internals or graphql: run gateway/test/single-fetch.int.test.ts
 * and gateway/test/lean-executor.int.test.ts (both against the library's executor) and the unit test;
 * when they pass, set {@link SINGLE_FETCH_VERIFIED_WITH} to the installed versions (the pin test reads
 * it). When they fail, fix these files or ship with GATEWAY_SINGLE_FETCH=false and
 * GATEWAY_LEAN_EXECUTOR=false.
 */
import {
  Supergraph,
  baseType,
  isNonNullType,
  operationFromDocument,
  type NamedType,
  type Schema,
} from '@apollo/federation-internals';
import { buildOperationContext, type GraphQLDataSource } from '@apollo/gateway';
import { GraphQLDataSourceRequestKind } from '@apollo/gateway/dist/datasources/types.js';
import { QueryPlanner, type FetchNode, type QueryPlan } from '@apollo/query-planner';
import type {
  GatewayExecutionResult,
  GatewayExecutor,
  GatewayGraphQLRequestContext,
  GatewayInterface,
  GatewayLoadResult,
  GatewaySchemaLoadOrUpdateCallback,
  GatewayUnsubscriber,
} from '@apollo/server-gateway-interface';
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  getVariableValues,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { tracingEnabled } from '../../lib/telemetry.js';
import type { GatewayContext } from './gateway.context.js';
import { executeLeanPlan, isLeanPlan, type LeanPlan } from './plan-executor.js';

/** What the fast path needs from the running gateway. */
export interface SingleFetchDeps {
  /** The supergraph SDL being served now (read on every request; plans are rebuilt when it changes). */
  supergraphSdl: () => string;
  /** The data source of a subgraph, by name (the same class and HTTP client the gateway uses). */
  dataSource: (serviceName: string) => GraphQLDataSource | undefined;
  /** Counts requests by path: the single-fetch fast path, the lean executor, the gateway's executor. */
  onPath?: (path: QueryPath) => void;
  /** Which fast paths are on (GATEWAY_SINGLE_FETCH, GATEWAY_LEAN_EXECUTOR); both by default. */
  paths?: { singleFetch: boolean; lean: boolean };
}

/** How an operation was executed (the `path` label of `gateway_query_path_total`). */
export type QueryPath = 'single-fetch' | 'lean' | 'gateway';

/** A planned query: see {@link SingleFetchPlanner}. */
export interface Planned {
  /** The fetch to send, or undefined when the plan must go through the gateway's executor. */
  fetch: FetchNode | undefined;
  /**
   * `data` when the fetch fails as a whole, as the gateway computes it: every root field null, or
   * null itself when a root field is non-null.
   */
  failedData: Record<string, null> | null;
  /** The plan for the lean executor, when the single-fetch path does not apply and the plan qualifies. */
  lean: (LeanPlan & { variableDefinitions: OperationDefinitionNode['variableDefinitions'] }) | undefined;
}

/** Plans kept per supergraph (documents are also bounded by the gateway's own limits). */
const MAX_PLANS = 5000;

/** The library versions this fast path was last verified against (see the module comment). */
export const SINGLE_FETCH_VERIFIED_WITH = {
  '@apollo/gateway': '2.14.4',
  '@apollo/query-planner': '2.14.4',
  '@apollo/federation-internals': '2.14.4',
  graphql: '16.15.0',
} as const;

/**
 * Plans queries and decides which take the fast path (exported for its unit test). A plan qualifies
 * only when all of these hold (checked once per document, then cached):
 * - a query or a mutation (subscriptions never; the fields of a mutation planned as one fetch go to one
 *   subgraph, which runs them in order), with no root field starting with `__` (introspection is
 *   answered by the gateway itself);
 * - the plan is one `Fetch` node without `requires`, input, output or context rewrites (no
 *   entity jumps, no aliases the planner had to invent);
 * - no selection on an interface or union anywhere (the planner adds `__typename` there, which the
 *   client did not ask for and the gateway would strip).
 * The subgraph is called through the gateway's own data source class, headers and HTTP client; its
 * errors are re-raised as the gateway raises them (`serviceName` added, then masked by the formatter).
 * A fetch that throws gives what the gateway gives: that error, with every root field null (or
 * `data: null` when one of them is non-null).
 */
export class SingleFetchPlanner {
  private readonly api: Schema;
  private readonly planner: QueryPlanner;
  private readonly plans = new Map<string, Planned>();
  /** The supergraph as a graphql-js schema, as the library's executor gets it (entity type checks). */
  readonly supergraphSchema: GraphQLSchema;

  /** @param paths which fast paths to plan for (a path that is off is never planned) */
  constructor(
    readonly sdl: string,
    private readonly paths: { singleFetch: boolean; lean: boolean } = { singleFetch: true, lean: true },
  ) {
    const supergraph = Supergraph.build(sdl);
    this.api = supergraph.apiSchema();
    this.planner = new QueryPlanner(supergraph);
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
  }

  plan(document: DocumentNode, source: string, operationName: string | null): Planned {
    const key = `${operationName ?? ''}\n${source}`;
    let planned = this.plans.get(key);
    if (!planned) {
      planned = this.planOf(document, source, operationName);
      if (this.plans.size >= MAX_PLANS) this.plans.clear();
      this.plans.set(key, planned);
    }
    return planned;
  }

  private planOf(document: DocumentNode, source: string, operationName: string | null): Planned {
    const none: Planned = { fetch: undefined, failedData: null, lean: undefined };
    const op = document.definitions.find(
      (d) =>
        d.kind === Kind.OPERATION_DEFINITION && (operationName === null || d.name?.value === operationName),
    );
    if (op?.kind !== Kind.OPERATION_DEFINITION) return none;
    if (op.operation !== OperationTypeNode.QUERY && op.operation !== OperationTypeNode.MUTATION) return none;
    let plan: QueryPlan;
    try {
      const operation = operationFromDocument(this.api, document, {
        ...(operationName ? { operationName } : {}),
      });
      plan = this.planner.buildQueryPlan(operation);
    } catch {
      // The gateway's executor plans it again and reports the problem its own way.
      return none;
    }
    const single = this.paths.singleFetch ? this.singleFetchOf(document, op, plan) : undefined;
    if (single) return { ...single, lean: undefined };
    return { ...none, lean: this.paths.lean ? this.leanOf(document, source, op, plan) : undefined };
  }

  /**
   * The lean executor's plan: any plan of the nodes it runs, for a document that selects no
   * `__schema` or `__type` (introspection is answered by the library), with the operation parsed as
   * the library's executor parses it on every request.
   */
  private leanOf(
    document: DocumentNode,
    source: string,
    op: OperationDefinitionNode,
    plan: QueryPlan,
  ): Planned['lean'] {
    if (/__(schema|type)\b/.test(source) || !isLeanPlan(plan)) return undefined;
    try {
      // The library's own pick of the operation and fragments; `schema` is only carried through.
      const context = buildOperationContext({
        schema: undefined as unknown as Parameters<typeof buildOperationContext>[0]['schema'],
        operationDocument: document,
        ...(op.name ? { operationName: op.name.value } : {}),
      });
      const operation = operationFromDocument(
        this.api,
        { kind: Kind.DOCUMENT, definitions: [context.operation, ...Object.values(context.fragments)] },
        { validate: false },
      );
      return { plan, operation, variableDefinitions: op.variableDefinitions };
    } catch {
      return undefined;
    }
  }

  private singleFetchOf(
    document: DocumentNode,
    op: OperationDefinitionNode,
    plan: QueryPlan,
  ): Omit<Planned, 'lean'> | undefined {
    // Sent once either way: a fetch that throws is answered with its error, never sent again.
    const queryType = this.api.schemaDefinition.rootType(
      op.operation === OperationTypeNode.QUERY ? 'query' : 'mutation',
    );
    if (!queryType) return undefined;
    const failedData: Record<string, null> = {};
    let nonNullRoot = false;
    for (const sel of op.selectionSet.selections) {
      // Plain root fields only: no fragments, no directives (@skip/@include decide which keys exist).
      if (sel.kind !== Kind.FIELD || sel.name.value.startsWith('__') || sel.directives?.length) {
        return undefined;
      }
      const field = queryType.field(sel.name.value);
      if (!field?.type) return undefined;
      if (isNonNullType(field.type)) nonNullRoot = true;
      failedData[sel.alias?.value ?? sel.name.value] = null;
    }
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of document.definitions)
      if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    if (this.selectsAbstractType(queryType, op.selectionSet, fragments, new Set())) return undefined;
    const fetch = this.singleFetch(plan);
    return fetch ? { fetch, failedData: nonNullRoot ? null : failedData } : undefined;
  }

  private singleFetch(plan: QueryPlan): FetchNode | undefined {
    const node = plan.node;
    if (node?.kind !== 'Fetch') return undefined;
    if (node.requires || node.inputRewrites?.length || node.outputRewrites?.length) return undefined;
    if (node.contextRewrites?.length) return undefined;
    return node;
  }

  /**
   * True when the selection reaches an interface or union (or names a type or field this schema does
   * not have: the gateway's executor then reports it). Walks the document with the federation schema's
   * own types (graphql-js type checks would be another module instance under some loaders).
   */
  private selectsAbstractType(
    parent: NamedType,
    selectionSet: SelectionSetNode,
    fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    seen: Set<string>,
  ): boolean {
    for (const sel of selectionSet.selections) {
      if (sel.kind === Kind.FIELD) {
        if (!sel.selectionSet) continue;
        if (parent.kind !== 'ObjectType' && parent.kind !== 'InterfaceType') return true;
        const field = parent.field(sel.name.value);
        if (!field?.type) return true;
        const type = baseType(field.type);
        if (type.kind === 'InterfaceType' || type.kind === 'UnionType') return true;
        if (this.selectsAbstractType(type, sel.selectionSet, fragments, seen)) return true;
      } else {
        let condition: string | undefined;
        let inner: SelectionSetNode;
        if (sel.kind === Kind.INLINE_FRAGMENT) {
          condition = sel.typeCondition?.name.value;
          inner = sel.selectionSet;
        } else {
          const fragment = fragments.get(sel.name.value);
          if (!fragment) return true;
          // A fragment's type condition is fixed: one walk answers for every spread of it.
          if (seen.has(sel.name.value)) continue;
          seen.add(sel.name.value);
          condition = fragment.typeCondition.name.value;
          inner = fragment.selectionSet;
        }
        const type = condition === undefined ? parent : this.api.type(condition);
        if (!type || type.kind === 'InterfaceType' || type.kind === 'UnionType') return true;
        if (this.selectsAbstractType(type, inner, fragments, seen)) return true;
      }
    }
    return false;
  }
}

/** The error as @apollo/gateway raises a subgraph's error (`downstreamServiceError`). */
function downstreamError(error: GraphQLFormattedError, serviceName: string): GraphQLError {
  return new GraphQLError(error.message || `Error while fetching subquery from service "${serviceName}"`, {
    path: error.path,
    extensions: { ...error.extensions, serviceName },
  });
}

/**
 * Wraps the gateway (see the module comment): same schema, same lifecycle, an executor that answers
 * single-fetch queries directly.
 */
export class SingleFetchGateway implements GatewayInterface {
  private planner: SingleFetchPlanner | undefined;
  private served: GraphQLSchema | undefined;

  constructor(
    private readonly inner: GatewayInterface,
    private readonly deps: SingleFetchDeps,
  ) {}

  /** The API schema Apollo Server serves now (the one its documents are validated against). */
  get apiSchema(): GraphQLSchema | undefined {
    return this.served;
  }

  onSchemaLoadOrUpdate(callback: GatewaySchemaLoadOrUpdateCallback): GatewayUnsubscriber {
    return this.inner.onSchemaLoadOrUpdate((schema) => {
      this.served = schema.apiSchema;
      callback(schema);
    });
  }

  async load(options: Parameters<GatewayInterface['load']>[0]): Promise<GatewayLoadResult> {
    const loaded = await this.inner.load(options);
    const executor = loaded.executor;
    if (!executor) return loaded;
    return { ...loaded, executor: (ctx) => this.execute(ctx, executor) };
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  /** Builds the planner of the supergraph being served now, before a request needs it. */
  warm(): void {
    this.currentPlanner();
  }

  private currentPlanner(): SingleFetchPlanner {
    const sdl = this.deps.supergraphSdl();
    if (this.planner?.sdl !== sdl) this.planner = new SingleFetchPlanner(sdl, this.deps.paths);
    return this.planner;
  }

  private async execute(
    ctx: GatewayGraphQLRequestContext,
    gatewayExecutor: GatewayExecutor,
  ): Promise<GatewayExecutionResult> {
    // Run already by the lean pipeline (lean-pipeline.ts), which handed the answer to Apollo Server.
    const done = (ctx.context as Partial<GatewayContext>).leanDone?.execution;
    if (done) {
      if ('result' in done) return done.result;
      throw done.thrown;
    }
    const fast = this.executeFast(ctx);
    if (fast) return fast;
    this.deps.onPath?.('gateway');
    return gatewayExecutor(ctx);
  }

  /**
   * Runs the operation on the single-fetch path or the lean executor; undefined (nothing done) when
   * only @apollo/gateway's executor can run it.
   */
  executeFast(ctx: GatewayGraphQLRequestContext): Promise<GatewayExecutionResult> | undefined {
    const planner = this.currentPlanner();
    const { fetch, failedData, lean } = planner.plan(ctx.document, ctx.source, ctx.operationName);
    const source = fetch ? this.deps.dataSource(fetch.serviceName) : undefined;
    if (!fetch || !source) {
      if (lean && this.leanApplies(ctx, lean.variableDefinitions)) {
        this.deps.onPath?.('lean');
        return executeLeanPlan(lean, ctx, planner.supergraphSchema, this.deps.dataSource);
      }
      return undefined;
    }
    this.deps.onPath?.('single-fetch');
    return this.fetchOne(ctx, fetch, source, failedData);
  }

  private async fetchOne(
    ctx: GatewayGraphQLRequestContext,
    fetch: FetchNode,
    source: GraphQLDataSource,
    failedData: Record<string, null> | null,
  ): Promise<GatewayExecutionResult> {
    const given = ctx.request.variables ?? {};
    const variables: Record<string, unknown> = {};
    for (const name of fetch.variableUsages ?? []) {
      if (name in given) variables[name] = given[name];
    }
    let response;
    try {
      response = await source.process({
        kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
        request: {
          query: fetch.operation,
          variables,
          ...(fetch.operationName ? { operationName: fetch.operationName } : {}),
        },
        incomingRequestContext: ctx,
        context: ctx.context,
        ...(fetch.operationDocumentNode ? { document: fetch.operationDocumentNode } : {}),
      });
    } catch (err) {
      // As the gateway does when a fetch throws (unreachable, non-2xx): the error, and data computed
      // from nothing. The gateway's formatter masks what has no public code.
      const error =
        err instanceof GraphQLError
          ? err
          : new GraphQLError(err instanceof Error ? err.message : String(err), {
              ...(err instanceof Error ? { originalError: err } : {}),
            });
      return { data: failedData ? { ...failedData } : null, errors: [error] };
    }
    const errors = response.errors?.map((e) => downstreamError(e, fetch.serviceName));
    return {
      data: response.data ?? null,
      ...(errors && errors.length > 0 ? { errors } : {}),
    };
  }

  /**
   * Whether this request may take the lean executor: not while tracing is on (the library's spans
   * are the trace) or traces are captured, and not with variables the library would refuse (it
   * answers those itself, as it does before executing).
   */
  private leanApplies(
    ctx: GatewayGraphQLRequestContext,
    definitions: OperationDefinitionNode['variableDefinitions'],
  ): boolean {
    if (tracingEnabled() || ctx.metrics.captureTraces) return false;
    if (!definitions || definitions.length === 0) return true;
    return !getVariableValues(ctx.schema, definitions, ctx.request.variables ?? {}).errors;
  }
}
