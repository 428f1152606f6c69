/**
 * How the gateway talks to one subgraph: which URL (configuration overrides the URL composed into
 * the supergraph) and which headers. Nothing from the client is forwarded except what the gateway
 * checked: `authorization` (only once verified), `x-request-id` (well-formed, or generated), the
 * client IP as `x-forwarded-for` (one address, from TRUSTED_PROXIES hops only) and `user-agent`
 * (clipped; sessions record it). The gateway adds its ingress credential, without which subgraphs
 * answer 403 and ignore `x-forwarded-for`. With tracing on (lib/telemetry), each fetch is a client span
 * whose W3C `traceparent` the subgraph continues.
 */
import { randomUUID } from 'node:crypto';
import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { GraphQLError, OperationTypeNode } from 'graphql';
import type { Config } from '../../lib/config.js';
import { ErrorCode } from '../../lib/errors.js';
import { injectTraceContext, SpanKind, tracingEnabled, withSpan } from '../../lib/telemetry.js';
import type { SubgraphName } from '../../schema/subgraphs.js';
import type { GatewayContext } from './gateway.context.js';
import { DEDUPE_HEADER, LiteHeaders, type SubgraphFetcher } from './subgraph.fetcher.js';

/**
 * Subgraph URLs from configuration, by subgraph name (`AUTH_URL` etc. or the local ports).
 * Subgraphs not listed keep the URL composed into the supergraph.
 */
export function subgraphUrlsFromConfig(
  config: Pick<
    Config,
    'authUrl' | 'sessionsUrl' | 'tenantsUrl' | 'tradingUrl' | 'marketDataUrl' | 'analyticsUrl'
  >,
): Record<SubgraphName, string> {
  // Typed by schema/subgraphs.ts: a subgraph added there without a URL here fails typecheck.
  const byName: Record<SubgraphName, string> = {
    auth: `${config.authUrl}/graphql`,
    sessions: `${config.sessionsUrl}/graphql`,
    tenants: `${config.tenantsUrl}/graphql`,
    trading: `${config.tradingUrl}/graphql`,
    'market-data': `${config.marketDataUrl}/graphql`,
    analytics: `${config.analyticsUrl}/graphql`,
  };
  return byName;
}

const PUBLIC_CODES = new Set<string>(Object.values(ErrorCode));

/** Data source with the gateway's header policy, HTTP client and error hygiene. */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  /**
   * @param ingress the service credential's headers (lib/ingress), sent on every fetch, health checks
   *   included: subgraphs answer GraphQL to nobody else
   * @param name the subgraph's name, on its fetch spans
   */
  constructor(
    url: string,
    fetcher: SubgraphFetcher,
    private readonly dedupe: boolean,
    private readonly ingress: Readonly<Record<string, string>>,
    private readonly name = 'subgraph',
  ) {
    super({ url, fetcher });
  }

  /**
   * RemoteGraphQLDataSource.process (@apollo/gateway 2.14, without APQ and without a
   * `didReceiveResponse` hook, neither of which this class uses) minus its node-fetch `Headers` and
   * `Request` objects, built for every subgraph fetch and a visible share of the gateway's CPU: the
   * same headers (lower-cased names, sorted as node-fetch sorts them), body, error handling and
   * cache-policy restriction.
   */
  override async process(
    options: GraphQLDataSourceProcessOptions<GatewayContext>,
  ): Promise<GatewayGraphQLResponse> {
    const { request } = options;
    const headers = new LiteHeaders(request.http?.headers);
    headers.set('content-type', 'application/json');
    request.http = { method: 'POST', url: this.url, headers };
    this.willSendRequest(options);
    if (!request.query) throw new Error('Missing query');
    const { query, http: _http, ...rest } = request;
    const init = {
      method: 'POST',
      headers: Object.fromEntries([...headers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      body: JSON.stringify({ query, ...rest }),
    };
    const response = tracingEnabled()
      ? await this.tracedFetch(init, request.operationName)
      : await this.fetcher(this.url, init);
    if (!response.ok) throw await this.errorFromResponse(response);
    const body = await this.parseBody(response);
    if (typeof body !== 'object' || body === null) {
      throw new Error(`Expected JSON response body, but received: ${String(body)}`);
    }
    // Typed `any` by @apollo/server-gateway-interface; Apollo Server passes its CachePolicy.
    const policy: unknown =
      'incomingRequestContext' in options ? options.incomingRequestContext.overallCachePolicy : undefined;
    if (this.honorSubgraphCacheControlHeader && isRestrictable(policy)) {
      policy.restrict(cacheHintOf(response.headers.get('cache-control')));
    }
    return { ...body, http: response };
  }

  /** The fetch as a client span, its context sent as `traceparent` (a trace spans the subgraphs). */
  private tracedFetch(
    init: { method: string; headers: Record<string, string>; body: string },
    operationName: string | undefined,
  ): ReturnType<SubgraphFetcher> {
    const attributes = {
      'graphql.federation.subgraph': this.name,
      ...(operationName ? { 'graphql.operation.name': operationName } : {}),
      'url.full': this.url,
    };
    return withSpan(`fetch ${this.name}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      injectTraceContext(init.headers);
      const response = await this.fetcher(this.url, init);
      span?.setAttribute('http.response.status_code', response.status);
      return response;
    });
  }

  override willSendRequest(options: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    const headers = options.request.http?.headers;
    if (!headers) return;
    for (const name in this.ingress) headers.set(name, this.ingress[name] ?? '');
    // Health checks and schema loads carry no incoming request (the kind enum is not exported).
    if (!('incomingRequestContext' in options)) {
      headers.set('x-request-id', randomUUID());
      return;
    }
    const ctx = options.context;
    headers.set('x-request-id', ctx.requestId);
    headers.set('x-forwarded-for', ctx.clientIp);
    if (ctx.userAgent !== undefined) headers.set('user-agent', ctx.userAgent);
    if (ctx.authorization !== undefined) headers.set('authorization', ctx.authorization);
    if (this.dedupe && options.incomingRequestContext.operation?.operation === OperationTypeNode.QUERY) {
      headers.set(DEDUPE_HEADER, '1');
    }
  }

  /**
   * A non-2xx answer from a subgraph. The library's error carries the subgraph's URL and raw body in
   * `extensions.response`; here a public error code the subgraph sent (e.g. UNAUTHENTICATED from its
   * own token check) is kept with its message, and anything else becomes an error without a public
   * code, which the formatter logs and masks.
   */
  override async errorFromResponse(response: Parameters<RemoteGraphQLDataSource['errorFromResponse']>[0]) {
    const body = await this.parseBody(response).catch(() => undefined);
    const first = (
      body as { errors?: { message?: unknown; extensions?: Record<string, unknown> }[] } | undefined
    )?.errors?.[0];
    const code = first?.extensions?.['code'];
    if (typeof code === 'string' && PUBLIC_CODES.has(code) && code !== ErrorCode.Internal) {
      const { code: _code, ...rest } = first?.extensions ?? {};
      return new GraphQLError(typeof first?.message === 'string' ? first.message : code, {
        extensions: { ...rest, code },
      });
    }
    return new GraphQLError(`subgraph answered HTTP ${response.status}`, {
      extensions: { subgraphStatus: response.status },
    });
  }
}

/** A cache hint as Apollo's CachePolicy takes it. */
interface CacheHint {
  maxAge: number;
  scope?: 'PUBLIC' | 'PRIVATE';
}

function isRestrictable(policy: unknown): policy is { restrict(hint: CacheHint): void } {
  return typeof policy === 'object' && policy !== null && 'restrict' in policy;
}

/** The cache hint of a subgraph's `Cache-Control` header, read as RemoteGraphQLDataSource reads it. */
function cacheHintOf(header: string | null): CacheHint {
  const hint: CacheHint = { maxAge: 0 };
  if (!header) return hint;
  const directives = new Map<string, string | true>();
  for (const part of header.trim().split(/\s*,\s*/)) {
    const [k = '', v] = part.split(/\s*=\s*/, 2);
    directives.set(k, v === undefined ? true : v.replace(/^"|"$/g, ''));
  }
  const maxAge = directives.get('max-age');
  if (typeof maxAge === 'string' && /^[0-9]+$/.test(maxAge)) hint.maxAge = Number(maxAge);
  if (directives.get('private') === true) hint.scope = 'PRIVATE';
  if (directives.get('public') === true) hint.scope = 'PUBLIC';
  return hint;
}
