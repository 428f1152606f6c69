/**
 * Lean GraphQL request pipelines (issue 15): a plain JSON POST of a document Apollo Server has already
 * parsed and validated, against the schema it serves now, is served without Apollo Server's request
 * pipeline (its plugin hooks awaited one by one, a sha256 of the text and a copy of the context per
 * request, response objects built and merged: about 25 µs of each request's CPU, BENCHMARKS.md
 * "Gateway overhead"), and answered byte for byte as Apollo Server answers it. What the pipelines
 * cannot answer that way they hand to Apollo Server with the context they built, so nothing runs
 * twice. The gateway's is gateway/src/lean-pipeline.ts; a subgraph's is {@link LeanSubgraphPipeline},
 * which lib/http.ts puts in front of every subgraph's Apollo Server.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { Request, Response } from 'express';
import type { GraphQLError } from 'graphql';
import {
  execute,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { sendGraphQLAnswer } from './http.js';
import { MemoNegotiator } from './negotiator-memo.js';
import { tracingEnabled } from './telemetry.js';

/** A document Apollo Server parsed and validated, and the operation a request's name chose in it. */
export interface Validated {
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

/** The media types Apollo Server offers a single result in, its default first. */
const JSON_TYPE = 'application/json; charset=utf-8';
const OFFERED = [
  JSON_TYPE,
  'application/graphql-response+json; charset=utf-8',
  'application/json; callbackSpec=1.0; charset=utf-8',
];

/** A request a lean pipeline takes: its fields as Apollo Server reads them, and the answer's type. */
export interface Taken {
  query: string;
  operationName: string | undefined;
  variables: Record<string, unknown> | undefined;
  validated: Validated;
  contentType: string;
}

/**
 * The request's fields when a lean pipeline may take it: a JSON POST (which Apollo's CSRF check
 * lets through) whose body Apollo Server would accept as it is, of a document it validated against
 * `schema`, with an Accept header it can answer, while tracing is off (the traces are Apollo's path).
 */
export function takePlainRequest(
  req: Request,
  documents: ValidatedDocuments,
  schema: GraphQLSchema | undefined,
): Taken | undefined {
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
  const validated = documents.get(query, name, schema);
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

/**
 * What Apollo Server's pipeline sees when it resolves an operation, for a plugin that remembers
 * validated documents: a plain (not persisted) query with its text.
 */
export function rememberValidated(
  documents: ValidatedDocuments,
  rc: {
    request: { query?: string; operationName?: string; extensions?: Record<string, unknown> };
    schema: GraphQLSchema;
    document: DocumentNode;
    queryHash: string;
    operation: OperationDefinitionNode;
  },
): void {
  if (rc.request.query === undefined || rc.request.extensions?.['persistedQuery']) return;
  const { schema, document, queryHash, operation } = rc;
  documents.remember(rc.request.query, rc.request.operationName, { schema, document, queryHash, operation });
}

/** A resolved operation's errors formatted as Apollo Server formats them, and the HTTP head they ask for. */
export interface FormattedErrors {
  errors: GraphQLFormattedError[];
  status: number | undefined;
  headers: [string, string][];
}

/**
 * Apollo Server's `normalizeAndFormatErrors` without stack traces (includeStacktraceInErrorResponses
 * is off everywhere here): the code defaults to INTERNAL_SERVER_ERROR, an `extensions.http` (status,
 * headers) moves to the answer's head, then the server's `formatError`; a formatter that throws gives
 * Apollo's generic internal error.
 */
export function formatExecutionErrors(
  errors: readonly GraphQLError[],
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError,
): FormattedErrors {
  let status: number | undefined;
  const headers = new Map<string, string>();
  const enrich = (error: GraphQLError): GraphQLFormattedError => {
    const extensions: Record<string, unknown> = {
      ...error.extensions,
      code: error.extensions['code'] ?? 'INTERNAL_SERVER_ERROR',
    };
    const http = extensions['http'];
    if (isPartialHttpHead(http)) {
      if (http.status) status = http.status;
      for (const [name, value] of http.headers ?? []) headers.set(name, value);
      delete extensions['http'];
    }
    return { ...error.toJSON(), extensions };
  };
  const formatted = errors.map((error) => {
    try {
      return formatError(enrich(error), error);
    } catch {
      return { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
  });
  return { errors: formatted, status, headers: [...headers] };
}

function isPartialHttpHead(x: unknown): x is { status?: number; headers?: Map<string, string> } {
  if (!x || typeof x !== 'object') return false;
  const head = x as { status?: unknown; headers?: unknown };
  return (
    (!('status' in head) || typeof head.status === 'number') &&
    (!('headers' in head) || head.headers instanceof Map)
  );
}

/** What a subgraph's lean pipeline shares with its Apollo Server. */
export interface LeanSubgraphOptions {
  schema: GraphQLSchema;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** Counts each error of an answer by code (what lib/http's errorCounter plugin counts). */
  countError: (code: string) => void;
  /** Counts requests answered here and handed to Apollo Server (`graphql_pipeline_total{path}`). */
  onPath?: (path: 'lean' | 'apollo') => void;
}

/**
 * A subgraph's lean pipeline: the request's context, then graphql-js `execute` as Apollo Server runs
 * it (the same schema, document, variables and operation name; no root value or field resolver of
 * its own; no plugin of the subgraph's own, which keeps a subgraph with plugins on Apollo Server's
 * pipeline), then the answer Apollo Server would write with lib/http's plugins (`Cache-Control:
 * no-store`, errors counted by code): errors formatted as Apollo formats them, their `http` extension
 * as the answer's status and headers. A context that fails, and a request refused before execution
 * started (variables that do not coerce: no data), go to Apollo Server, which answers them as it always
 * did (nothing ran, so nothing runs twice).
 */
export class LeanSubgraphPipeline<TContext extends object> {
  private readonly documents = new ValidatedDocuments(LEAN_DOCUMENTS_MAX, LEAN_DOCUMENTS_MAX_BYTES);

  constructor(private readonly opts: LeanSubgraphOptions) {}

  /** The plugin that remembers the documents Apollo Server validated (for Apollo Server's list). */
  plugin(): ApolloServerPlugin<TContext> {
    return {
      requestDidStart: () =>
        Promise.resolve({
          didResolveOperation: (rc) => {
            if (rc.operation) rememberValidated(this.documents, { ...rc, operation: rc.operation });
            return Promise.resolve();
          },
        }),
    };
  }

  /** Serves one request; `apollo` runs it through Apollo Server with the context it is given. */
  async serve(
    req: Request,
    res: Response,
    build: () => Promise<TContext>,
    apollo: (context: () => Promise<TContext>) => Promise<void>,
  ): Promise<void> {
    const handOver = (context: () => Promise<TContext>): Promise<void> => {
      this.opts.onPath?.('apollo');
      return apollo(context);
    };
    const taken = takePlainRequest(req, this.documents, this.opts.schema);
    if (!taken) return handOver(build);
    const pending = build();
    let context: TContext;
    try {
      context = await pending;
    } catch {
      return handOver(() => pending);
    }
    let result: ExecutionResult;
    try {
      result = await execute({
        schema: this.opts.schema,
        document: taken.validated.document,
        contextValue: context,
        variableValues: taken.variables,
        operationName: taken.operationName,
      });
    } catch {
      // graphql-js throws only on arguments it refuses outright, before any resolver runs.
      return handOver(() => Promise.resolve(context));
    }
    // Refused before anything ran (variables): Apollo Server's own answer (a 400, BAD_USER_INPUT).
    if (result.data === undefined) return handOver(() => Promise.resolve(context));
    this.opts.onPath?.('lean');
    const formatted = result.errors ? formatExecutionErrors(result.errors, this.opts.formatError) : undefined;
    const headers = new Map<string, string>(formatted?.headers);
    for (const e of formatted?.errors ?? []) {
      const code = e.extensions?.['code'];
      this.opts.countError(typeof code === 'string' ? code : 'UNKNOWN');
    }
    if (!headers.has('cache-control')) headers.set('cache-control', 'no-store');
    if (!headers.has('content-type')) headers.set('content-type', taken.contentType);
    // Apollo's field order (errors, data, extensions) and trailing newline.
    const fields = { errors: formatted?.errors, data: result.data, extensions: result.extensions };
    const body = `${JSON.stringify(fields)}\n`;
    sendGraphQLAnswer(req, res, formatted?.status ?? 200, headers, body);
    return undefined;
  }
}

/** Validated documents a lean pipeline serves (by text and operation name), and their text in all. */
export const LEAN_DOCUMENTS_MAX = 2048;
export const LEAN_DOCUMENTS_MAX_BYTES = 2 * 1024 * 1024;
