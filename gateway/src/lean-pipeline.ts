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
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { sendGraphQLAnswer, type AnswerHook } from '../../lib/http.js';
import type { Logger } from '../../lib/logger.js';
import { MemoNegotiator } from '../../lib/negotiator-memo.js';
import { tracingEnabled } from '../../lib/telemetry.js';
import { admit, type AdmissionDeps } from './admission.plugin.js';
import type { FirstSight } from './first-sight.js';
import type { GatewayContext, LeanDone } from './gateway.context.js';
import type { SingleFetchGateway } from './single-fetch.gateway.js';

/** A document Apollo Server parsed and validated, and the operation a request's name chose in it. */
interface Validated {
  /** The API schema it was validated against (a reload makes the entry useless). */
  schema: GraphQLSchema;
  document: DocumentNode;
  /** Apollo's queryHash of the text (sha256, hex). */
  queryHash: string;
  operation: OperationDefinitionNode;
}

/**
 * Documents Apollo Server validated, by text and by the operation name the request gave; bounded
 * in entries and in bytes of text, the oldest text forgotten first.
 */
export class ValidatedDocuments {
  private readonly byText = new Map<string, Map<string | undefined, Validated>>();
  private entries = 0;
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.entries;
  }

  /** Called when Apollo Server resolved an operation: the document passed parsing and validation. */
  remember(text: string, operationName: string | undefined, validated: Validated): void {
    if (text.length > this.maxBytes) return;
    let byName = this.byText.get(text);
    if (!byName) {
      while (
        this.byText.size > 0 &&
        (this.entries >= this.maxEntries || this.bytes + text.length > this.maxBytes)
      ) {
        this.forgetOldest();
      }
      byName = new Map<string | undefined, Validated>();
      this.byText.set(text, byName);
      this.bytes += text.length;
    }
    if (!byName.has(operationName)) this.entries++;
    byName.set(operationName, validated);
  }

  /** The validated document of this text and operation name, if validated against `schema`. */
  get(
    text: string,
    operationName: string | undefined,
    schema: GraphQLSchema | undefined,
  ): Validated | undefined {
    const validated = this.byText.get(text)?.get(operationName);
    return validated && validated.schema === schema ? validated : undefined;
  }

  private forgetOldest(): void {
    const [text, byName] = this.byText.entries().next().value as [string, Map<string | undefined, Validated>];
    this.byText.delete(text);
    this.entries -= byName.size;
    this.bytes -= text.length;
  }
}

/** Apollo Server's cache policy of a request (restricted by each subgraph answer's Cache-Control). */
class CachePolicy {
  maxAge: number | undefined;
  scope: 'PUBLIC' | 'PRIVATE' | undefined;

  restrict(hint: { maxAge?: number; scope?: 'PUBLIC' | 'PRIVATE' }): void {
    if (hint.maxAge !== undefined && (this.maxAge === undefined || hint.maxAge < this.maxAge)) {
      this.maxAge = hint.maxAge;
    }
    if (hint.scope !== undefined && this.scope !== 'PRIVATE') this.scope = hint.scope;
  }

  replace(hint: { maxAge?: number; scope?: 'PUBLIC' | 'PRIVATE' }): void {
    if (hint.maxAge !== undefined) this.maxAge = hint.maxAge;
    if (hint.scope !== undefined) this.scope = hint.scope;
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

/** The media types Apollo Server offers a single result in, its default first. */
const JSON_TYPE = 'application/json; charset=utf-8';
const OFFERED = [
  JSON_TYPE,
  'application/graphql-response+json; charset=utf-8',
  'application/json; callbackSpec=1.0; charset=utf-8',
];

/** The executors never read it (no APQ towards subgraphs); the request context's type wants one. */
const NO_CACHE: KeyValueCache = {
  get: () => Promise.resolve(undefined),
  set: () => Promise.resolve(),
  delete: () => Promise.resolve(true),
};
const SCHEMA_HASH = 'schemaHash no longer exists since Apollo Server 4' as GatewaySchemaHash;

/** A request the lean pipeline takes: its fields as Apollo Server reads them, and the answer's type. */
interface Taken {
  query: string;
  operationName: string | undefined;
  variables: Record<string, unknown> | undefined;
  validated: Validated;
  contentType: string;
}

export interface LeanPipelineDeps {
  singleFetch: SingleFetchGateway;
  documents: ValidatedDocuments;
  admission: AdmissionDeps;
  firstSight: FirstSight;
  /** The logger Apollo Server has (the executors log through the request context's). */
  logger: Logger;
  /** Counts requests answered here and handed to Apollo Server (`gateway_pipeline_total{path}`). */
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
    const taken = this.take(req);
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

  /**
   * The request's fields when the lean pipeline takes it: a JSON POST (which Apollo's CSRF check
   * lets through) whose body Apollo Server would accept as it is, of a document it validated
   * against the schema served now, with an Accept header it can answer.
   */
  private take(req: Request): Taken | undefined {
    if (req.method !== 'POST' || tracingEnabled()) return undefined;
    const type = req.headers['content-type'];
    if (type === undefined || !type.toLowerCase().startsWith('application/json')) return undefined;
    const body = req.body as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
    const { query, operationName, variables, extensions } = body as Record<string, unknown>;
    if (typeof query !== 'string' || query === '' || (extensions !== undefined && extensions !== null)) {
      return undefined;
    }
    if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
      return undefined;
    }
    if (
      variables !== undefined &&
      variables !== null &&
      (typeof variables !== 'object' || Array.isArray(variables))
    ) {
      return undefined;
    }
    const name = typeof operationName === 'string' ? operationName : undefined;
    const validated = this.deps.documents.get(query, name, this.deps.singleFetch.apiSchema);
    if (!validated) return undefined;
    const accept = req.headers.accept;
    const contentType = accept ? new MemoNegotiator({ headers: { accept } }).mediaType(OFFERED) : JSON_TYPE;
    if (contentType === undefined) return undefined;
    return {
      query,
      operationName: name,
      variables: (variables ?? undefined) as Record<string, unknown> | undefined,
      validated,
      contentType,
    };
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
