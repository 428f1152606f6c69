import { Supergraph, operationFromDocument, type Schema } from '@apollo/federation-internals';
import { QueryPlanner, type FetchNode, type PlanNode, type QueryPlan } from '@apollo/query-planner';
import type { DocumentNode, GraphQLSchema } from 'graphql';

/** The two halves of a federated subscription plan. */
export interface PlannedSubscription {
  /** The subscription fetch sent to the subgraph that owns the root field. */
  primary: FetchNode;
  /** Fetches for fields owned by other subgraphs, run for every event (absent when there are none). */
  rest: PlanNode | undefined;
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
  private readonly planner: QueryPlanner;
  private readonly cache = new Map<string, PlannedSubscription>();

  constructor(readonly sdl: string) {
    const supergraphSdl = sdl;
    const supergraph = Supergraph.build(supergraphSdl);
    this.apiSchema = supergraph.apiSchema();
    this.schema = this.apiSchema.toGraphQLJSSchema();
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
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
    const planned = { primary: plan.node.primary, rest: plan.node.rest };
    if (this.cache.size > 1000) this.cache.clear();
    this.cache.set(key, planned);
    return planned;
  }
}
