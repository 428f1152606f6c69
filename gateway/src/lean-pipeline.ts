/**
 * The gateway's lean request pipeline (issue 15): a plain JSON POST of a document Apollo Server has
 * already parsed and validated, against the schema it serves now, runs here without Apollo Server's
 * request pipeline (its plugin hooks, a sha256 of the text and a context copy per request, response
 * objects built and merged): about 25 µs of every request's CPU (BENCHMARKS.md, "Gateway overhead").
 * The request goes through the same steps in the same order: the context (token, session, rate
 * limits, fairness), what the gateway plugin does when an operation resolves, admission (cost limit
 * and budget, the same function as the admission plugin), then the single-fetch path or the lean
 * executor. An answer without errors is written as Apollo Server would write it, byte for byte.
 *
 * Anything else is handed to Apollo Server at the point reached, with what was done so far
 * (`GatewayContext.leanDone`) so that nothing runs twice: a context that failed (Apollo answers its
 * refusal), a refused admission, a plan only @apollo/gateway's executor runs, or an answer with
 * errors (Apollo formats, masks, counts and remembers them as before). Documents not seen yet, APQ,
 * GET, other content types, Accept headers it cannot serve and requests while tracing is on never
 * come here. `GATEWAY_LEAN_PIPELINE=false` sends every request through Apollo Server;
 * gateway/test/lean-pipeline.int.test.ts compares the two.
 */
import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import type {
  GatewayExecutionResult,
  GatewayGraphQLRequest,
  GatewayGraphQLRequestContext,
  GatewaySchemaHash,
} from '@apollo/server-gateway-interface';
import type { Request, Response } from 'express';
import { sendGraphQLAnswer, type AnswerHook } from '../../lib/http.js';
import { takePlainRequest, type Taken, type ValidatedDocuments } from '../../lib/lean-graphql.js';
import type { Logger } from '../../lib/logger.js';
import { admit, type AdmissionDeps } from './admission.plugin.js';
import type { FirstSight } from './first-sight.js';
import type { GatewayContext, LeanDone } from './gateway.context.js';
import type { SingleFetchGateway } from './single-fetch.gateway.js';

/**
 * Apollo Server's cache policy of a request (not exported by it), as far as the gateway uses one: the
 * data source restricts it by each subgraph answer's Cache-Control, {@link cacheControlOf} reads it.
 */
class CachePolicy {
  maxAge: number | undefined;
  scope: 'PUBLIC' | 'PRIVATE' | undefined;

  restrict(hint: { maxAge?: number; scope?: 'PUBLIC' | 'PRIVATE' }): void {
    if (hint.maxAge !== undefined && (this.maxAge === undefined || hint.maxAge < this.maxAge)) {
      this.maxAge = hint.maxAge;
    }
    if (hint.scope !== undefined && this.scope !== 'PRIVATE') this.scope = hint.scope;
  }

  policyIfCacheable(): { maxAge: number; scope: 'PUBLIC' | 'PRIVATE' } | null {
    if (this.maxAge === undefined || this.maxAge === 0) return null;
    return { maxAge: this.maxAge, scope: this.scope ?? 'PUBLIC' };
  }
}

/** The answer's Cache-Control, as the gateway plugin sets it for an answer without errors. */
export function cacheControlOf(policy: {
  policyIfCacheable(): { maxAge: number; scope: string } | null;
}): string {
  const cacheable = policy.policyIfCacheable();
  return cacheable ? `max-age=${cacheable.maxAge}, ${cacheable.scope.toLowerCase()}` : 'no-store';
}

/** The executors never read it (no APQ towards subgraphs); the request context's type wants one. */
const NO_CACHE: KeyValueCache = {
  get: () => Promise.resolve(undefined),
  set: () => Promise.resolve(),
  delete: () => Promise.resolve(true),
};
const SCHEMA_HASH = 'schemaHash no longer exists since Apollo Server 4' as GatewaySchemaHash;

export interface LeanPipelineDeps {
  singleFetch: SingleFetchGateway;
  documents: ValidatedDocuments;
  admission: AdmissionDeps;
  firstSight: FirstSight;
  /** The logger Apollo Server has (the executors log through the request context's). */
  logger: Logger;
  /** Counts requests answered here and handed to Apollo Server (`graphql_pipeline_total{path}`). */
  onPath?: (path: 'lean' | 'apollo') => void;
}

export class LeanPipeline {
  constructor(private readonly deps: LeanPipelineDeps) {}

  /**
   * Serves one request (see the module comment). `build` makes the request's context; `apollo` runs
   * the request through Apollo Server with the context it is given.
   */
  async serve(
    req: Request,
    res: Response,
    build: () => Promise<GatewayContext>,
    apollo: (context: () => Promise<GatewayContext>) => Promise<void>,
    beforeAnswer?: AnswerHook,
  ): Promise<void> {
    const taken = takePlainRequest(req, this.deps.documents, this.deps.singleFetch.apiSchema);
    if (!taken) {
      this.deps.onPath?.('apollo');
      return apollo(build);
    }
    const pending = build();
    let context: GatewayContext;
    try {
      context = await pending;
    } catch {
      // Apollo answers a context that failed (a refused token, a rate limit) as it always did.
      return this.handOver(apollo, () => pending);
    }
    const { validated, operationName, variables } = taken;
    const handOver = (done: LeanDone): Promise<void> => {
      context.leanDone = done;
      return this.handOver(apollo, () => Promise.resolve(context));
    };
    // What the gateway plugin does when an operation resolves, then the admission plugin.
    this.deps.firstSight.through(validated.queryHash, operationName, true);
    context.labels.operationType = validated.operation.operation;
    try {
      admit(this.deps.admission, {
        contextValue: context,
        document: validated.document,
        operationName: validated.operation.name?.value ?? null,
        variables,
        queryHash: validated.queryHash,
        registers: false,
      });
    } catch (refusal) {
      return handOver({ admission: { refused: refusal } });
    }
    const policy = new CachePolicy();
    let result: GatewayExecutionResult | undefined;
    try {
      const running = this.deps.singleFetch.executeFast(this.requestContext(taken, context, policy));
      result = running && (await running);
    } catch (thrown) {
      return handOver({ admission: 'admitted', execution: { thrown } });
    }
    // A plan only @apollo/gateway's executor runs (nothing ran yet).
    if (!result) return handOver({ admission: 'admitted' });
    if (result.errors !== undefined || result.extensions !== undefined) {
      return handOver({ admission: 'admitted', execution: { result } });
    }
    this.deps.onPath?.('lean');
    // Apollo Server's answer: the gateway plugin's Cache-Control, then the negotiated type; the
    // fields in its order (errors, data, extensions: only data here) and its trailing newline.
    sendGraphQLAnswer(
      req,
      res,
      200,
      [
        ['cache-control', cacheControlOf(policy)],
        ['content-type', taken.contentType],
      ],
      `${JSON.stringify({ data: result.data })}\n`,
      beforeAnswer,
    );
    return undefined;
  }

  private handOver(
    apollo: (context: () => Promise<GatewayContext>) => Promise<void>,
    context: () => Promise<GatewayContext>,
  ): Promise<void> {
    this.deps.onPath?.('apollo');
    return apollo(context);
  }

  /** The request context an executor gets, as Apollo Server builds it for a gateway. */
  private requestContext(
    taken: Taken,
    context: GatewayContext,
    overallCachePolicy: CachePolicy,
  ): GatewayGraphQLRequestContext<GatewayContext> {
    const { query, operationName, variables, validated } = taken;
    const request: GatewayGraphQLRequest = { query };
    if (operationName !== undefined) request.operationName = operationName;
    if (variables !== undefined) request.variables = variables;
    return {
      request,
      logger: this.deps.logger,
      schema: validated.schema,
      schemaHash: SCHEMA_HASH,
      context,
      cache: NO_CACHE,
      queryHash: validated.queryHash,
      document: validated.document,
      source: query,
      operationName: validated.operation.name?.value ?? null,
      operation: validated.operation,
      metrics: {},
      debug: false,
      overallCachePolicy,
      requestIsBatched: false,
    };
  }
}
