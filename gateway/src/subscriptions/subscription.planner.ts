import { Supergraph, operationFromDocument, printSchema, type Schema } from '@apollo/federation-internals';
import { QueryPlanner, type FetchNode, type PlanNode, type QueryPlan } from '@apollo/query-planner';
import { buildSchema, getOperationAST, Kind, type DocumentNode, type GraphQLSchema } from 'graphql';

/** The two halves of a federated subscription plan. */
export interface PlannedSubscription {
  /** The subscription fetch sent to the subgraph that owns the root field. */
  primary: FetchNode;
  /** Fetches for fields owned by other subgraphs, run for every event (absent when there are none). */
  rest: PlanNode | undefined;
  /** Every subgraph the plan touches: the primary's and those of `rest`. */
  services: ReadonlySet<string>;
  /** Root fields selected (undefined when the root selection is not plain fields). */
  rootFields: readonly string[] | undefined;
}

/**
 * Subscription root fields whose events are the same for every authenticated caller (public market
 * data). Only these may share one upstream stream across users and tenants; see {@link isPublicPlan}.
 */
export const PUBLIC_SUBSCRIPTION_FIELDS: ReadonlySet<string> = new Set(['priceUpdated']);

/**
 * Subgraphs whose fields do not depend on who asks (beyond being authenticated): market-data serves
 * the platform-wide instrument catalog, quotes and ticks. Trading, for instance, is not: it adds the
 * caller's `Instrument.position`.
 */
export const PUBLIC_SUBSCRIPTION_SERVICES: ReadonlySet<string> = new Set(['market-data']);

/**
 * True when every event of the plan is the same whoever subscribes: public root fields only, and every
 * fetch (the subscription and the per-event `rest`) to a subgraph whose answers do not depend on the
 * caller. Such a subscription is shared by every user with the same document and variables; anything
 * else (`orderUpdated`, `tradeExecuted`, or `priceUpdated { instrument { position } }`, which fetches
 * the caller's position from trading) is shared only within one user's scope.
 */
export function isPublicPlan(
  plan: PlannedSubscription,
  publicFields: ReadonlySet<string> = PUBLIC_SUBSCRIPTION_FIELDS,
  publicServices: ReadonlySet<string> = PUBLIC_SUBSCRIPTION_SERVICES,
): boolean {
  if (!plan.rootFields || plan.rootFields.length === 0) return false;
  if (!plan.rootFields.every((f) => publicFields.has(f))) return false;
  for (const s of plan.services) if (!publicServices.has(s)) return false;
  return true;
}

/**
 * Plans subscriptions with the same supergraph the gateway serves. @apollo/gateway plans a
 * subscription as `Subscription { primary, rest }` but refuses to execute it; we execute it ourselves
 * (see `subscription.executor.ts`).
 */
export class SubscriptionPlanner {
  readonly apiSchema: Schema;
  /** graphql-js form of the API schema (what clients validate against). */
  readonly schema: GraphQLSchema;
  /** graphql-js form of the supergraph schema (what `executeQueryPlan` needs). */
  readonly supergraphSchema: GraphQLSchema;
  /**
   * The API schema built by this module's copy of graphql-js, for validating client documents here:
   * graphql-js refuses a schema built by another copy, and @apollo/federation-internals (CommonJS)
   * may load another one than ESM code does (vitest does).
   */
  readonly validationSchema: GraphQLSchema;
  private readonly planner: QueryPlanner;
  private readonly cache = new Map<string, PlannedSubscription>();

  constructor(readonly sdl: string) {
    const supergraphSdl = sdl;
    const supergraph = Supergraph.build(supergraphSdl);
    this.apiSchema = supergraph.apiSchema();
    this.schema = this.apiSchema.toGraphQLJSSchema();
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
    this.validationSchema = buildSchema(printSchema(this.apiSchema));
    this.planner = new QueryPlanner(supergraph);
  }

  /**
   * Plans one subscription operation (cached by its source text and operation name).
   * @throws when the document is not a subscription or cannot be planned
   */
  plan(document: DocumentNode, source: string, operationName: string | undefined): PlannedSubscription {
    const key = `${operationName ?? ''}\n${source}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const operation = operationFromDocument(this.apiSchema, document, {
      ...(operationName ? { operationName } : {}),
    });
    const plan: QueryPlan = this.planner.buildQueryPlan(operation);
    if (plan.node?.kind !== 'Subscription') throw new Error('not a subscription operation');
    const primary = plan.node.primary;
    const rest = plan.node.rest;
    const services = new Set([primary.serviceName, ...(rest ? serviceNames(rest) : [])]);
    const planned: PlannedSubscription = {
      primary,
      rest,
      services,
      rootFields: rootFieldsOf(document, operationName),
    };
    if (this.cache.size > 1000) this.cache.clear();
    this.cache.set(key, planned);
    return planned;
  }
}

function rootFieldsOf(document: DocumentNode, operationName: string | undefined): string[] | undefined {
  const op = getOperationAST(document, operationName);
  if (!op) return undefined;
  const out: string[] = [];
  for (const sel of op.selectionSet.selections) {
    if (sel.kind !== Kind.FIELD) return undefined;
    if (sel.name.value !== '__typename') out.push(sel.name.value);
  }
  return out;
}

/** Subgraphs a plan node fetches from. */
export function serviceNames(node: PlanNode): Set<string> {
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
