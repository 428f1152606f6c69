/**
 * Every static limit of an operation, refused with QUERY_TOO_COMPLEX before any subgraph is called:
 * tokens (graphql-js' own parser limit), depth, aliases and directives (graphql-armor validation
 * rules) and cost (./query-cost.ts). The HTTP path runs the rules inside Apollo (cached per document)
 * and the cost per request (variables may size lists; a cost no variable can change is kept per
 * document); other transports call {@link OperationLimits}.
 * Introspection (`__schema`) gets a depth allowance of its own so GraphiQL's and codegen's query
 * (13 levels) works under a small limit; its breadth is bounded by the cost like any other field.
 */
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  buildSchema,
  GraphQLError,
  parse,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Config } from '../../lib/config.js';
import { AppError, queryTooComplex, withoutStack } from '../../lib/errors.js';
import { costDependsOnVariables, QueryCostModel } from './query-cost.js';

/** Depth allowed under `__schema`, whatever MAX_QUERY_DEPTH is (the introspection query needs 13). */
export const INTROSPECTION_MAX_DEPTH = 16;

/** Cost of one fetch to a subgraph (see ./query-cost.ts). */
export const FETCH_COST = 10;

/** Name of a static limit: the `limit` extension of a refusal and the label of its metric. */
export type LimitName = 'size' | 'tokens' | 'depth' | 'aliases' | 'directives' | 'cost';

/** The limits, as configured. */
export type LimitsConfig = Pick<
  Config,
  | 'MAX_QUERY_DEPTH'
  | 'MAX_QUERY_ALIASES'
  | 'MAX_QUERY_TOKENS'
  | 'MAX_QUERY_DIRECTIVES'
  | 'MAX_QUERY_COST'
  | 'QUERY_COST_LIST_SIZE'
  | 'QUERY_COST_PAGE_SIZE'
>;

/** A refusal made inside graphql-js validation: the shared formatter answers with the AppError's code. */
function reportLimit(context: ValidationContext | null, error: AppError): void {
  // Built without capturing frames: a refusal is an answer (lib/errors `withoutStack`).
  context?.reportError(
    withoutStack(
      () =>
        new GraphQLError(error.message, {
          originalError: error,
          extensions: { code: error.code, ...error.details },
        }),
    ),
  );
}

/** The number armor reports as found (its messages end in "found <n>."). */
function foundIn(err: GraphQLError): number | undefined {
  const m = /found (\d+)/.exec(err.message);
  return m?.[1] ? Number(m[1]) : undefined;
}

function refusal(limit: LimitName, what: string, max: number, found: number | undefined): AppError {
  const message =
    found === undefined
      ? `Query ${what} exceeds the limit of ${max}`
      : `Query ${what} ${found} exceeds the limit of ${max}`;
  return queryTooComplex(message, { limit, max, ...(found === undefined ? {} : { found }) });
}

/**
 * The depth, alias and directive rules (graphql-armor), refusing with QUERY_TOO_COMPLEX and
 * `extensions { limit, max, found }`. Fragments are expanded (each spread counts), memoized per
 * fragment so exponential spreads stay linear; a fragment cycle is left to NoFragmentCyclesRule.
 */
export function limitValidationRules(limits: LimitsConfig): ValidationRule[] {
  const depth = limits.MAX_QUERY_DEPTH;
  const introspectionDepth = Math.max(depth, INTROSPECTION_MAX_DEPTH);
  const onReject =
    (limit: LimitName, what: string, max: number) =>
    (context: ValidationContext | null, err: GraphQLError): void =>
      reportLimit(context, refusal(limit, what, max, foundIn(err)));
  return [
    maxDepthRule({
      n: depth,
      ignoreIntrospection: true,
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: [onReject('depth', 'depth', depth)],
    }),
    // The same rule again, introspection included, with its allowance.
    maxDepthRule({
      n: introspectionDepth,
      ignoreIntrospection: false,
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: [onReject('depth', 'depth (introspection included)', introspectionDepth)],
    }),
    maxAliasesRule({
      n: limits.MAX_QUERY_ALIASES,
      allowList: [],
      propagateOnRejection: false,
      onReject: [onReject('aliases', 'alias count', limits.MAX_QUERY_ALIASES)],
    }),
    maxDirectivesRule({
      n: limits.MAX_QUERY_DIRECTIVES,
      propagateOnRejection: false,
      onReject: [onReject('directives', 'directive count', limits.MAX_QUERY_DIRECTIVES)],
    }),
  ];
}

/**
 * The QUERY_TOO_COMPLEX refusal for graphql-js' token limit, when `message` is that parse error
 * (Apollo reports it as GRAPHQL_PARSE_FAILED; the gateway's formatter maps it with this).
 */
export function tokenLimitRefusal(message: string, maxTokens: number): AppError | undefined {
  // graphql-js 16 spells it "more that"; accept the corrected spelling too.
  if (!/Document contains more tha[nt] \d+ tokens/.test(message)) return undefined;
  return queryTooComplex(`Query has more tokens than the limit of ${maxTokens}`, {
    limit: 'tokens',
    max: maxTokens,
  });
}

/** What {@link OperationLimits.check} decides. */
export type LimitVerdict =
  { ok: true; cost: number } | { ok: false; error: AppError; limit: LimitName; cost?: number | undefined };

/** A schema the limit rules validate against: they read the document only, never its types. */
let shapeOnlySchema: GraphQLSchema | undefined;

/**
 * Every static limit for one supergraph. `check` is the one entry point for transports other than
 * Apollo's HTTP pipeline (graphql-ws subscriptions): it applies depth, aliases, directives and cost
 * to a parsed document; `parse` applies the token limit to a source.
 */
export class OperationLimits {
  private readonly model: QueryCostModel;
  private readonly rules: ValidationRule[];
  /**
   * Costs of documents whose cost no variable can change (Apollo hands back the same parsed document),
   * by operation name: a mutation's input variables, say, never size a list.
   */
  private readonly fixedCosts = new WeakMap<DocumentNode, Map<string, number>>();
  /** Whether a document's cost is independent of its variables (see {@link costDependsOnVariables}). */
  private readonly variableFreeSizes = new WeakMap<DocumentNode, boolean>();

  constructor(
    /** The supergraph SDL the cost model was built from (callers rebuild when it changes). */
    readonly sdl: string,
    private readonly limits: LimitsConfig,
  ) {
    this.model = new QueryCostModel(sdl, {
      listSize: limits.QUERY_COST_LIST_SIZE,
      pageSize: limits.QUERY_COST_PAGE_SIZE,
      fetchCost: FETCH_COST,
    });
    this.rules = limitValidationRules(limits);
  }

  /** Parses `source` with the token limit; a document over it throws the QUERY_TOO_COMPLEX AppError. */
  parse(source: string): DocumentNode {
    try {
      return parse(source, { maxTokens: this.limits.MAX_QUERY_TOKENS });
    } catch (err) {
      const refused =
        err instanceof Error ? tokenLimitRefusal(err.message, this.limits.MAX_QUERY_TOKENS) : undefined;
      throw refused ?? err;
    }
  }

  /**
   * The cost of the operation, refused over MAX_QUERY_COST with `extensions { limit: "cost", cost,
   * maxCost }`. An operation that cannot be found costs 0 (execution reports it).
   */
  checkCost(
    document: DocumentNode,
    operationName: string | null | undefined,
    variables: Readonly<Record<string, unknown>> | null | undefined,
  ): LimitVerdict {
    const cost = this.costOf(document, operationName, variables);
    const maxCost = this.limits.MAX_QUERY_COST;
    if (cost <= maxCost) return { ok: true, cost };
    const error = queryTooComplex(`Query cost ${cost} exceeds the limit of ${maxCost}`, {
      limit: 'cost',
      cost,
      maxCost,
    });
    return { ok: false, error, limit: 'cost', cost };
  }

  private costOf(
    document: DocumentNode,
    operationName: string | null | undefined,
    variables: Readonly<Record<string, unknown>> | null | undefined,
  ): number {
    let fixed = this.variableFreeSizes.get(document);
    if (fixed === undefined) {
      fixed = !costDependsOnVariables(document);
      this.variableFreeSizes.set(document, fixed);
    }
    const key = operationName ?? '';
    const known = fixed ? this.fixedCosts.get(document)?.get(key) : undefined;
    if (known !== undefined) return known;
    const cost = this.model.cost(document, operationName, variables)?.cost ?? 0;
    if (fixed) {
      let byName = this.fixedCosts.get(document);
      if (!byName) this.fixedCosts.set(document, (byName = new Map<string, number>()));
      byName.set(key, cost);
    }
    return cost;
  }

  /** Depth, aliases, directives, then cost: the first limit exceeded, or the cost when none is. */
  check(
    document: DocumentNode,
    operationName: string | null | undefined,
    variables: Readonly<Record<string, unknown>> | null | undefined,
  ): LimitVerdict {
    shapeOnlySchema ??= buildSchema('type Query { _: Int }');
    const [first] = validate(shapeOnlySchema, document, this.rules);
    if (first) {
      const original = first.originalError;
      const error = original instanceof AppError ? original : queryTooComplex(first.message, {});
      const limit = error.details['limit'] as LimitName;
      return { ok: false, error, limit };
    }
    return this.checkCost(document, operationName, variables);
  }
}
