/**
 * Documents refused by a static limit (tokens, depth, aliases, directives; the cost when the
 * operation declares no variables): those refusals depend only on the text, the operation name and
 * the limits, never on the caller, so a repeated one is answered from memory before the rate limits,
 * parsing and validation run again. Keyed by the sha256 of the text (Apollo's `queryHash`) and the
 * operation name; bounded (LRU); forgotten when the supergraph changes.
 */
import type { Request, RequestHandler, Response } from 'express';
import { LRUCache } from 'lru-cache';
import { ErrorCode } from '../../lib/errors.js';
import { createHash } from '../../lib/query-hash-memo.js';
import type { GatewayMetrics } from './gateway.metrics.js';

/** Limits whose refusal is a function of the document's text alone. */
const SHAPE_LIMITS = new Set(['tokens', 'depth', 'aliases', 'directives']);

/** A formatted GraphQL error as Apollo sends it. */
export interface SentError {
  message: string;
  path?: readonly (string | number)[] | undefined;
  extensions?: Record<string, unknown> | undefined;
}

interface Refusal {
  status: number;
  errors: SentError[];
  limits: string[];
}

/**
 * The static limits behind `errors`, when every error is a refusal by one that does not depend on
 * the request's variables (otherwise undefined).
 */
export function staticRefusalLimits(
  errors: readonly SentError[],
  variableFree: boolean,
): string[] | undefined {
  const limits: string[] = [];
  for (const e of errors) {
    const limit = e.extensions?.['limit'];
    if (e.extensions?.['code'] !== ErrorCode.QueryTooComplex || e.path || typeof limit !== 'string')
      return undefined;
    if (!SHAPE_LIMITS.has(limit) && !(limit === 'cost' && variableFree)) return undefined;
    limits.push(limit);
  }
  return limits.length > 0 ? limits : undefined;
}

export class RefusedDocuments {
  private readonly refused: SupergraphScoped<Refusal>;

  constructor(
    maxEntries: number,
    private readonly metrics: GatewayMetrics,
    /** The supergraph being served: a change forgets every refusal. */
    supergraph: () => string | undefined,
  ) {
    this.refused = new SupergraphScoped(maxEntries, supergraph);
  }

  /**
   * Remembers a refused response when only static limits refused it.
   * @param queryHash Apollo's sha256 of the text
   * @param variableFree the operation declares no variables (its cost is then fixed)
   * @returns whether it was remembered
   */
  remember(
    request: { queryHash: string | undefined; operationName: string | undefined; variableFree: boolean },
    status: number | undefined,
    errors: readonly SentError[],
  ): boolean {
    if (!request.queryHash) return false;
    const limits = staticRefusalLimits(errors, request.variableFree);
    if (!limits) return false;
    const key = `${request.queryHash}:${request.operationName ?? ''}`;
    this.refused.current().set(key, { status: status ?? 400, errors: [...errors], limits });
    return true;
  }

  /**
   * Express handler in front of Apollo: answers a document refused before with the same answer.
   * @param send writes a GraphQL error response (content type negotiated by the gateway)
   */
  handler(send: (req: Request, res: Response, status: number, errors: SentError[]) => void): RequestHandler {
    return (req, res, next) => {
      const key = this.refused.current().size > 0 ? documentKeyOf(req) : undefined;
      const refused = key === undefined ? undefined : this.refused.current().get(key);
      if (!refused) {
        next();
        return;
      }
      for (const limit of refused.limits) {
        this.metrics.limitRefusals.inc({ limit });
        this.metrics.http.graphqlErrors.inc({ code: ErrorCode.QueryTooComplex });
      }
      this.metrics.refusedFromMemory.inc();
      send(req, res, refused.status, refused.errors);
    };
  }
}

/** An LRU of facts about documents, forgotten at once when the supergraph being served changes. */
export class SupergraphScoped<V extends NonNullable<unknown>> {
  private readonly cache: LRUCache<string, V>;
  private sdl: string | undefined;

  constructor(
    maxEntries: number,
    private readonly supergraph: () => string | undefined,
  ) {
    this.cache = new LRUCache({ max: maxEntries });
  }

  /** The entries of the supergraph served now. */
  current(): LRUCache<string, V> {
    const sdl = this.supergraph();
    if (sdl !== this.sdl) {
      this.cache.clear();
      this.sdl = sdl;
    }
    return this.cache;
  }
}

/**
 * `<sha256 of the text>:<operation name>` of a POST body or a GET query string (Apollo's `queryHash`
 * and the name), or undefined when it carries no text (an APQ look-up by hash alone).
 */
export function documentKeyOf(req: Request): string | undefined {
  const r = requestOf(req.body, req.method === 'GET' ? req.query : undefined);
  if (typeof r.query !== 'string') return undefined;
  const name = typeof r.operationName === 'string' ? r.operationName : '';
  return `${createHash('sha256').update(r.query).digest('hex')}:${name}`;
}

/** The document and operation name of a POST body or a GET query string. */
function requestOf(
  body: unknown,
  search: Record<string, unknown> | undefined,
): { query: unknown; operationName: unknown } {
  const from =
    typeof body === 'object' && body !== null && 'query' in body ? (body as Record<string, unknown>) : search;
  return { query: from?.['query'], operationName: from?.['operationName'] };
}
