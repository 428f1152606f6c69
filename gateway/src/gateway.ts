/**
 * The gateway (:8000): Apollo Gateway over the static supergraph, behind Apollo Server, with the
 * request-path policy of the platform: token verification and live-session checks, rate limits,
 * operation limits and cost budgets, CSRF prevention, CORS, bounded APQ in Redis, masked errors,
 * GraphiQL from local assets, and /health, /ready, /metrics from lib/http.
 */
import { ApolloGateway, HEALTH_CHECK_QUERY } from '@apollo/gateway';
import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import cors from 'cors';
import type { Express, Request, RequestHandler, Response } from 'express';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AccessTokenVerifier, CachedSessionLiveness } from '../../lib/auth.js';
import { disableApolloTelemetry, type Config } from '../../lib/config.js';
import { badInput, createErrorFormatter, ErrorCode } from '../../lib/errors.js';
import { requestIdFrom } from '../../lib/context.js';
import {
  createHttpService,
  executeGraphQLRequest,
  recentCheck,
  type AnswerHook,
  type Service,
} from '../../lib/http.js';
import { ingressHeaders } from '../../lib/ingress.js';
import {
  LEAN_DOCUMENTS_MAX,
  LEAN_DOCUMENTS_MAX_BYTES,
  rememberValidated,
  ValidatedDocuments,
} from '../../lib/lean-graphql.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { createMetrics, type HttpMetrics } from '../../lib/metrics.js';
import { createRedis, pingRedis, type Redis } from '../../lib/redis.js';
import { admissionPlugin, type AdmissionDeps } from './admission.plugin.js';
import { BoundedApqCache } from './apq.cache.js';
import { CostBudget } from './cost-budget.service.js';
import {
  createContextBuilder,
  LABELS_KEY,
  REQUEST_ID_KEY,
  type GatewayContext,
  type RequestLabels,
} from './gateway.context.js';
import { createGatewayMetrics, type GatewayMetrics } from './gateway.metrics.js';
import { mountGraphiql, prefersHtml, sendGraphiqlPage } from './graphiql/graphiql.routes.js';
import { ApiSchemaDocument, INTROSPECTION_OFF_MESSAGE, schemaHandler } from './graphiql/graphiql.schema.js';
import { limitValidationRules, OperationLimits, tokenLimitRefusal } from './operation-limits.js';
import { RefusedDocuments, type SentError } from './refused-documents.js';
import { FirstSight, NewDocuments } from './first-sight.js';
import { callerOf, RefusalPacing, refusalOf } from './refusal-pacing.js';
import { ManifestFirstCache, PersistedOperations } from './persisted-operations.js';
import { RateLimiter } from './rate-limit.service.js';
import { TenantLimits } from './tenant-limits.js';
import { WindowSync } from './window-sync.counter.js';
import { SingleFetchGateway } from './single-fetch.gateway.js';
import { cacheControlOf, LeanPipeline } from './lean-pipeline.js';
import { admitFairly, TenantFairness } from './tenant-fairness.js';
import { SubgraphDataSource, subgraphUrlsFromConfig } from './subgraph.datasource.js';
import { createSubscriptionMetrics } from './subscriptions/subscription.metrics.js';
import { SessionRecheck } from './subscriptions/subscription.liveness.js';
import { SubscriptionPlanner } from './subscriptions/subscription.planner.js';
import { attachSubscriptionServer, type SubscriptionServer } from './subscriptions/subscription.server.js';
import { CachingAccessTokenVerifier, type HeaderVerifier } from '../../lib/token-cache.js';
import { mountWebDesk, type WebDesk } from './web-desk.routes.js';
import { createSubgraphHttpClient, type SubgraphHttpClient } from './subgraph.fetcher.js';
import {
  GatewayLifecycle,
  SupergraphFileManager,
  subgraphsOf,
  type GatewayState,
} from './supergraph.manager.js';

/** Injectable collaborators; everything defaults to what `config` describes. */
export interface GatewayDeps {
  logger?: Logger;
  metrics?: HttpMetrics;
  /** Token verifier to use instead of JWKS at `config.jwksUrl` + the sessions service (used as is, uncached). */
  verifier?: HeaderVerifier;
  /** Subgraph URLs by name, over those from configuration and the supergraph. */
  subgraphUrls?: Record<string, string>;
}

/** The gateway service: start/stop plus its lifecycle state. */
export interface GatewayService extends Service {
  readonly state: GatewayState;
  readonly app: Express;
}

/** How old the last round of subgraph calls may be when /ready answers from it (recentCheck). */
const SUBGRAPH_CHECK_MAX_AGE_MS = 1000;

/** Extension keys a subgraph or the library may set that must not reach clients. */
const PRIVATE_EXTENSIONS = ['serviceName', 'response', 'http', 'stacktrace', 'exception', 'subgraphStatus'];

/**
 * The shared formatter (domain codes kept, anything else logged and masked) plus removal of what
 * federation adds: the subgraph's name, URL and raw response body; Apollo's advice to enable
 * introspection becomes where signed-in users find the schema.
 */
function createGatewayErrorFormatter(
  logger: Logger,
  maxTokens: number,
): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  const base = createErrorFormatter(logger);
  return (formatted, error) => {
    // graphql-js' token limit surfaces as a parse error; it is a static limit like the others.
    const tokens =
      formatted.extensions?.['code'] === 'GRAPHQL_PARSE_FAILED'
        ? tokenLimitRefusal(formatted.message, maxTokens)
        : undefined;
    let out = base(formatted, tokens ?? error);
    if (out.extensions?.['validationErrorCode'] === 'INTROSPECTION_DISABLED') {
      out = { ...out, message: INTROSPECTION_OFF_MESSAGE };
    }
    if (!out.extensions) return out;
    const extensions = { ...out.extensions };
    for (const key of PRIVATE_EXTENSIONS) delete extensions[key];
    return { ...out, extensions };
  };
}

/** Answers longer than this are never refusals (a refusal is a few errors, no data). */
const MAX_PACED_BODY = 8192;

/** Documents refused by a shape limit that the gateway answers from memory (LRU beyond). */
const REFUSED_DOCUMENTS_MAX = 1024;

/** Documents known validated or refused, whose concurrent requests no longer wait on each other. */
const FIRST_SIGHT_MAX = 4096;

/**
 * Request duration by operation type, errors by code, `Retry-After` for a subgraph's RATE_LIMITED,
 * and a log line with the request id for every error the formatter is about to mask (the formatter
 * logs the error itself, but Apollo gives it no request context).
 */
function gatewayPlugin(
  metrics: GatewayMetrics,
  logger: Logger,
  refused: RefusedDocuments,
  firstSight: FirstSight,
  documents: ValidatedDocuments | undefined,
): ApolloServerPlugin<GatewayContext> {
  const classify = createErrorFormatter(logger.child({}, { level: 'silent' }));
  return {
    requestDidStart: () =>
      Promise.resolve({
        didEncounterErrors: ({ errors, contextValue }) => {
          // Not every error here is a GraphQLError: @apollo/gateway passes on what a subgraph fetch threw
          // (a network error, say) as it is, and Apollo Server normalizes errors only after this hook.
          const masked = errors.filter(
            (e) =>
              classify(
                typeof (e as Partial<GraphQLError>).toJSON === 'function'
                  ? e.toJSON()
                  : { message: String((e as { message?: unknown }).message) },
                e,
              ).extensions?.['code'] === ErrorCode.Internal,
          );
          if (masked.length > 0) {
            contextValue.logger.error(
              { errors: masked.map((e) => ({ message: e.message, path: e.path })) },
              'request failed with masked errors',
            );
          }
          return Promise.resolve();
        },
        didResolveOperation: ({ operation, request, contextValue, queryHash, document, schema }) => {
          // Validated (Apollo keeps it now): requests that brought the same document meanwhile go on.
          firstSight.through(queryHash, request.operationName, true);
          if (!operation) {
            // Apollo leaves this to execution, where the gateway's planner throws a 500-class error.
            const message = request.operationName
              ? `Unknown operation named "${request.operationName}"`
              : 'Must provide an operation name when the document holds several operations';
            const err = badInput(message);
            throw new GraphQLError(message, {
              originalError: err,
              extensions: { code: err.code, http: { status: 400, headers: new HeaderMap() } },
            });
          }
          contextValue.labels.operationType = operation.operation;
          // Parsed and validated against the schema served now: the lean pipeline may serve the text.
          if (documents) rememberValidated(documents, { request, schema, document, queryHash, operation });
          return Promise.resolve();
        },
        willSendResponse: ({ response, queryHash, request, operation, overallCachePolicy }) => {
          // What Apollo's cache-control plugin (off, see the plugin list) sent: a max-age only when
          // every subgraph answer allowed one (the data source restricts the request's policy by
          // each answer's Cache-Control), and no-store otherwise.
          if (!response.http.headers.has('cache-control')) {
            response.http.headers.set(
              'cache-control',
              response.body.kind === 'single' && !response.body.singleResult.errors
                ? cacheControlOf(overallCachePolicy)
                : 'no-store',
            );
          }
          if (response.body.kind !== 'single') return Promise.resolve();
          const { errors } = response.body.singleResult;
          if (errors && !response.body.singleResult.data) {
            const variableFree = (operation?.variableDefinitions?.length ?? 0) === 0;
            const remembered = refused.remember(
              { queryHash, operationName: request.operationName ?? undefined, variableFree },
              response.http.status,
              errors,
            );
            firstSight.through(queryHash, request.operationName, remembered);
          }
          let retryAfter: number | undefined;
          for (const e of response.body.singleResult.errors ?? []) {
            const code = e.extensions?.['code'];
            metrics.http.graphqlErrors.inc({ code: typeof code === 'string' ? code : 'UNKNOWN' });
            const limit = e.extensions?.['limit'];
            // The gateway's own static limits (a subgraph's errors carry a path).
            if (code === ErrorCode.QueryTooComplex && typeof limit === 'string' && !e.path) {
              metrics.limitRefusals.inc({ limit });
            }
            const after = e.extensions?.['retryAfter'];
            if (code === ErrorCode.RateLimited && typeof after === 'number') {
              retryAfter = Math.max(retryAfter ?? 0, Math.ceil(after));
            }
          }
          if (retryAfter !== undefined) response.http.headers.set('retry-after', String(retryAfter));
          return Promise.resolve();
        },
      }),
  };
}

/** JSON error body in the shape of a GraphQL response, for refusals made before Apollo runs. */
function sendGraphQLErrors(req: Request, res: Response, status: number, errors: SentError[]): void {
  const type =
    req.accepts(['application/graphql-response+json', 'application/json']) ===
    'application/graphql-response+json'
      ? 'application/graphql-response+json; charset=utf-8'
      : 'application/json; charset=utf-8';
  res.status(status).type(type).send(JSON.stringify({ errors }));
}

/** {@link sendGraphQLErrors} with one error. */
function sendGraphQLError(
  req: Request,
  res: Response,
  status: number,
  message: string,
  extensions: Record<string, unknown>,
): void {
  sendGraphQLErrors(req, res, status, [{ message, extensions }]);
}

/** Refuses a query document longer than MAX_QUERY_BYTES with 413 before anything parses it. */
function querySizeLimit(maxBytes: number, metrics: GatewayMetrics): RequestHandler {
  return (req, res, next) => {
    const body = req.body as unknown;
    const fromBody = typeof body === 'object' && body !== null && 'query' in body ? body.query : undefined;
    const fromUrl = req.method === 'GET' ? req.query['query'] : undefined;
    const sizes = [fromBody, fromUrl].map((q) => (typeof q === 'string' ? Buffer.byteLength(q) : 0));
    const size = Math.max(...sizes);
    if (size > maxBytes) {
      metrics.limitRefusals.inc({ limit: 'size' });
      sendGraphQLError(req, res, 413, `Query size ${size} bytes exceeds the limit of ${maxBytes}`, {
        code: ErrorCode.QueryTooComplex,
        limit: 'size',
        max: maxBytes,
        found: size,
      });
      return;
    }
    next();
  };
}

/**
 * Creates the gateway without starting it (no side effects until `start()`).
 * @param config validated configuration; `SUPERGRAPH_PATH`, `supergraphWatch`, `jwksUrl`, subgraph URLs, limits
 * @param deps optional collaborators (tests)
 */
export function createGateway(config: Config, deps: GatewayDeps = {}): GatewayService {
  const logger = deps.logger ?? createLogger(config, 'gateway');
  const httpMetrics = deps.metrics ?? createMetrics('gateway');
  const metrics = createGatewayMetrics(httpMetrics);
  const subscriptionMetrics = createSubscriptionMetrics(httpMetrics.registry);
  let planner: SubscriptionPlanner | undefined;
  // Rebuilt lazily when the supergraph changes (development reload).
  const currentPlanner = (): SubscriptionPlanner => {
    if (planner?.sdl !== manager.supergraphSdl) planner = new SubscriptionPlanner(manager.supergraphSdl);
    return planner;
  };
  let limits: OperationLimits | undefined;
  // The static limits of the supergraph being served (the cost model reads its join directives).
  const currentLimits = (): OperationLimits => {
    if (limits?.sdl !== manager.supergraphSdl) limits = new OperationLimits(manager.supergraphSdl, config);
    return limits;
  };
  const lifecycle = new GatewayLifecycle(logger);
  const manager = new SupergraphFileManager({
    path: config.SUPERGRAPH_PATH,
    watch: config.supergraphWatch,
    lifecycle,
    logger,
    onReload: (result) => {
      metrics.supergraphReloads.inc({ result });
      if (result !== 'ok') return;
      try {
        warm();
      } catch (err) {
        // The first request that needs it builds it again and answers the error.
        logger.error({ err }, 'planners of the reloaded supergraph could not be built');
      }
    },
  });
  const urls: Record<string, string> = { ...subgraphUrlsFromConfig(config), ...deps.subgraphUrls };
  // Sent on every subgraph request and upstream subscription (lib/ingress).
  const ingress = ingressHeaders(config);
  const subgraphUrl = (name: string, composed: string): string => urls[name] ?? composed;

  let redis: Redis | undefined;
  let windows: WindowSync | undefined;
  let subscriber: Redis | undefined;
  let wsSubscriber: Redis | undefined;
  let subscriptions: SubscriptionServer | undefined;
  let client: SubgraphHttpClient | undefined;
  let apollo: ApolloServer<GatewayContext> | undefined;
  let singleFetch: SingleFetchGateway | undefined;
  /**
   * Builds what the supergraph's first request would otherwise build (the subscription and
   * single-fetch planners, the cost model): hundreds of milliseconds of one core, which would hold
   * every other request of the process behind the first subscriber after a start or a reload.
   */
  const warm = (): void => {
    currentPlanner();
    currentLimits();
    singleFetch?.warm();
  };
  let handler: RequestHandler | undefined;
  let schemaDocumentHandler: RequestHandler | undefined;

  const corsMiddleware = cors({
    origin: config.CORS_ORIGINS,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: [
      'content-type',
      'authorization',
      'x-request-id',
      'apollo-require-preflight',
      'x-apollo-operation-name',
    ],
    exposedHeaders: ['x-request-id', 'retry-after'],
    maxAge: 600,
  });

  let lastUnreachable = '';
  /** Every subgraph asked (its health query, through the ingress); see {@link recentCheck} for how often. */
  const subgraphsReachable = async (): Promise<boolean> => {
    const endpoints = subgraphsOf(manager.supergraphSdl);
    if (endpoints.length === 0) return false;
    const results = await Promise.all(
      endpoints.map(async ({ name, url }) => {
        try {
          const res = await fetch(subgraphUrl(name, url), {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...ingress },
            body: JSON.stringify({ query: HEALTH_CHECK_QUERY }),
            signal: AbortSignal.timeout(2000),
          });
          await res.arrayBuffer();
          return { name, ok: res.ok };
        } catch {
          return { name, ok: false };
        }
      }),
    );
    // /ready is polled often: say which subgraphs are unreachable when that set changes, not every time.
    const unreachable = results
      .filter((r) => !r.ok)
      .map((r) => r.name)
      .join(',');
    if (unreachable !== lastUnreachable) {
      if (unreachable) logger.warn({ subgraphs: unreachable.split(',') }, 'subgraphs unreachable');
      else logger.info('every subgraph is reachable');
      lastUnreachable = unreachable;
    }
    return unreachable === '';
  };

  /**
   * Sets the request id (before anything can refuse the request, so every answer carries it) and
   * the metric labels.
   */
  const tagRequest: RequestHandler = (req, res, next) => {
    const requestId = requestIdFrom(req.headers);
    res.locals[REQUEST_ID_KEY] = requestId;
    res.setHeader('x-request-id', requestId);
    const labels: RequestLabels = { operationType: 'unknown' };
    res.locals[LABELS_KEY] = labels;
    const started = process.hrtime.bigint();
    res.once('finish', () =>
      metrics.requestDuration.observe(
        { operation_type: labels.operationType },
        Number(process.hrtime.bigint() - started) / 1e9,
      ),
    );
    next();
  };
  const sizeLimit = querySizeLimit(config.MAX_QUERY_BYTES, metrics);
  const fairness = new TenantFairness(config, httpMetrics.registry);
  const refusedDocuments = new RefusedDocuments(REFUSED_DOCUMENTS_MAX, metrics, () => manager.supergraphSdl);
  const firstSight = new FirstSight(FIRST_SIGHT_MAX, metrics, () => manager.supergraphSdl);
  const leanOn =
    config.GATEWAY_LEAN_PIPELINE && (config.GATEWAY_SINGLE_FETCH || config.GATEWAY_LEAN_EXECUTOR);
  const validatedDocuments = leanOn
    ? new ValidatedDocuments(LEAN_DOCUMENTS_MAX, LEAN_DOCUMENTS_MAX_BYTES)
    : undefined;
  // One budget for both transports: a caller's new documents over HTTP and over graphql-ws.
  const newDocuments = new NewDocuments(config);
  const shareFirstSight = firstSight.handler();
  const pacing = new RefusalPacing(config, httpMetrics.registry);
  const answerRefused = refusedDocuments.handler((req, res, status, errors) =>
    pacing.pace(callerOf(req), undefined, res, () => sendGraphQLErrors(req, res, status, errors)),
  );
  // Refused answers from Apollo (rate limits, cost, quotas) leave through the same pacing.
  const paceRefusals: AnswerHook = (req, res, body, write) => {
    const retryAfter = body.length <= MAX_PACED_BODY ? refusalOf(body) : undefined;
    if (retryAfter === undefined) write();
    else pacing.pace(callerOf(req), retryAfter, res, write);
  };
  // A rejection reaches Express's error handler (or lib/http's, on the fast path) through the promise.
  const serveGraphQL: RequestHandler = (req, res, next) => {
    if (handler) return handler(req, res, next);
    sendGraphQLError(req, res, 503, 'Gateway is not serving yet', { code: ErrorCode.Internal });
    return undefined;
  };
  const serveSchemaDocument: RequestHandler = (req, res, next) => {
    if (schemaDocumentHandler) return schemaDocumentHandler(req, res, next);
    sendGraphQLError(req, res, 503, 'Gateway is not serving yet', { code: ErrorCode.Internal });
    return undefined;
  };
  const schemaAccess = config.introspection ? 'open' : 'signed-in';
  let webDesk: WebDesk | undefined;

  const http = createHttpService<GatewayContext>({
    name: 'gateway',
    config,
    port: config.GATEWAY_PORT,
    // X-Forwarded-For decides the client IP (rate limits, login throttles) only from these peers.
    trustProxy: config.TRUSTED_PROXIES,
    logger,
    metrics: httpMetrics,
    readiness: {
      gateway: () => Promise.resolve(lifecycle.state === 'serving' || lifecycle.state === 'reloading'),
      redis: () => (redis ? pingRedis(redis) : Promise.resolve(false)),
      // Answered from the last round of subgraph calls (at most a second old), never waiting on them.
      subgraphs: recentCheck(subgraphsReachable, SUBGRAPH_CHECK_MAX_AGE_MS),
    },
    routes: (app) => {
      // Express would hash every response body for a weak ETag; GraphQL POST answers never revalidate,
      // and GraphiQL assets set their own.
      app.set('etag', false);
      mountGraphiql(app, { logger, schemaAccess, schema: serveSchemaDocument });
      app.use('/graphql', corsMiddleware);
      app.get('/graphql', (req, res, next) => {
        if (prefersHtml(req)) sendGraphiqlPage(res, schemaAccess);
        else next();
      });
      app.use('/graphql', tagRequest, sizeLimit, shareFirstSight, answerRefused, serveGraphQL);
      webDesk = mountWebDesk(app, config, logger);
    },
    // The same handlers for plain JSON POSTs, without Express's router and body parser (lib/http).
    graphqlFastPath: [corsMiddleware, tagRequest, sizeLimit, shareFirstSight, answerRefused, serveGraphQL],
  });

  const release = async (): Promise<void> => {
    await client?.close();
    // The last counts reach Redis before the connection closes.
    await windows?.stop();
    await webDesk?.close();
    const clients = [redis, subscriber, wsSubscriber].filter((r): r is Redis => r !== undefined);
    await Promise.all(
      clients.map((r) =>
        r.quit().then(
          () => undefined,
          () => r.disconnect(),
        ),
      ),
    );
  };

  const start = async (): Promise<{ port: number; url: string }> => {
    disableApolloTelemetry();
    try {
      // Auto-pipelining: commands issued in the same tick (the limit syncs, APQ look-ups) leave in one write.
      redis = createRedis(config, 'commands', `${config.REDIS_PREFIX}gateway:`, {
        enableAutoPipelining: true,
        logger,
      });
      subscriber = createRedis(config, 'subscriber', undefined, { logger });
      const liveness = new CachedSessionLiveness(config, logger);
      await liveness.listen(subscriber, config.REDIS_PREFIX);
      const verifier =
        deps.verifier ?? new CachingAccessTokenVerifier(new AccessTokenVerifier(config, liveness), liveness);
      windows = new WindowSync(redis, { syncMs: config.RATE_LIMIT_SYNC_MS });
      windows.start();
      const limiter = new RateLimiter(windows, config);
      const tenantLimits = new TenantLimits(config, logger);
      await tenantLimits.listen(subscriber, config.REDIS_PREFIX);
      const budget = new CostBudget(windows, config);
      if (config.PERSISTED_OPERATIONS_ONLY && !config.PERSISTED_OPERATIONS_PATH) {
        throw new Error('PERSISTED_OPERATIONS_ONLY=true needs PERSISTED_OPERATIONS_PATH');
      }
      const manifest = config.PERSISTED_OPERATIONS_PATH
        ? PersistedOperations.load(config.PERSISTED_OPERATIONS_PATH)
        : undefined;
      const apqStore = new BoundedApqCache(redis, {
        maxEntries: config.APQ_MAX_ENTRIES,
        maxBytes: config.APQ_MAX_BYTES,
        ttlSeconds: config.APQ_TTL_SECONDS,
      });
      const httpClient = createSubgraphHttpClient({
        timeoutMs: config.SUBGRAPH_TIMEOUT_MS,
        dedupe: config.GATEWAY_DEDUPE,
        onShared: () => metrics.sharedFetches.inc(),
      });
      client = httpClient;
      // The gateway builds its data sources on every supergraph load; the single-fetch path uses the same.
      const dataSources = new Map<string, SubgraphDataSource>();
      const apolloGateway = new ApolloGateway({
        supergraphSdl: manager,
        buildService: ({ name, url }) => {
          const source = new SubgraphDataSource(
            subgraphUrl(name, url ?? ''),
            httpClient.fetcher,
            config.GATEWAY_DEDUPE,
            ingress,
            name,
          );
          dataSources.set(name, source);
          return source;
        },
        logger,
        validateSupergraph: true,
        serviceHealthCheck: false,
        // Query plans in responses (on a request header) would show clients the subgraph layout.
        __exposeQueryPlanExperimental: false,
      });
      singleFetch =
        config.GATEWAY_SINGLE_FETCH || config.GATEWAY_LEAN_EXECUTOR
          ? new SingleFetchGateway(apolloGateway, {
              supergraphSdl: () => manager.supergraphSdl,
              dataSource: (name) => dataSources.get(name),
              onPath: (path) => metrics.queryPath.inc({ path }),
              paths: { singleFetch: config.GATEWAY_SINGLE_FETCH, lean: config.GATEWAY_LEAN_EXECUTOR },
            })
          : undefined;
      const gateway = singleFetch ?? apolloGateway;
      const admission: AdmissionDeps = {
        limits: currentLimits,
        budget,
        metrics,
        onlyPersisted: config.PERSISTED_OPERATIONS_ONLY ? manifest : undefined,
      };
      apollo = new ApolloServer<GatewayContext>({
        gateway,
        introspection: config.introspection,
        hideSchemaDetailsFromClientErrors: !config.introspection,
        csrfPrevention: true,
        allowBatchedHttpRequests: false,
        includeStacktraceInErrorResponses: false,
        stopOnTerminationSignals: false,
        persistedQueries: {
          cache: manifest
            ? new ManifestFirstCache(manifest, apqStore, config.PERSISTED_OPERATIONS_ONLY)
            : apqStore,
          ttl: config.APQ_TTL_SECONDS,
        },
        parseOptions: { maxTokens: config.MAX_QUERY_TOKENS },
        validationRules: limitValidationRules(config),
        formatError: createGatewayErrorFormatter(logger, config.MAX_QUERY_TOKENS),
        logger,
        plugins: [
          ApolloServerPluginDrainHttpServer({ httpServer: http.server }),
          ApolloServerPluginLandingPageDisabled(),
          ApolloServerPluginUsageReportingDisabled(),
          ApolloServerPluginSchemaReportingDisabled(),
          // The cache-control plugin arms a field-resolver hook on every request (a property defined
          // on the context, the schema's resolvers wrapped) that nothing here calls: the plan executor
          // fetches, graphql-js resolvers never run. Its one effect, the answer's Cache-Control, is
          // gatewayPlugin's (willSendResponse).
          ApolloServerPluginCacheControlDisabled(),
          gatewayPlugin(metrics, logger, refusedDocuments, firstSight, validatedDocuments),
          admissionPlugin(admission),
        ],
      });
      await apollo.start();
      warm();
      const server = apollo;
      const context = createContextBuilder({
        verifier,
        limiter,
        tenantLimits,
        metrics,
        logger,
        newDocuments: { firstSight, budget: newDocuments },
      });
      const lean =
        singleFetch && validatedDocuments
          ? new LeanPipeline({
              singleFetch,
              documents: validatedDocuments,
              admission,
              firstSight,
              logger,
              onPath: (path) => httpMetrics.graphqlPipeline.inc({ path }),
            })
          : undefined;
      handler = (req, res) => {
        // Fairness hook: an admitted request waits for its tenant's turn before anything parses it.
        const build = (): Promise<GatewayContext> =>
          context({ req, res }).then((ctx) => admitFairly(fairness, ctx, res));
        const viaApollo = (ctx: () => Promise<GatewayContext>): Promise<void> =>
          executeGraphQLRequest(server, req, res, ctx, paceRefusals);
        return lean ? lean.serve(req, res, build, viaApollo, paceRefusals) : viaApollo(build);
      };
      schemaDocumentHandler = schemaHandler({
        document: new ApiSchemaDocument(() => manager.supergraphSdl),
        verifier,
        limiter,
        tenantLimits,
        metrics,
        logger,
        anonymousAllowed: config.introspection,
      });
      const bound = await http.start();
      wsSubscriber = createRedis(config, 'subscriber', undefined, { logger });
      subscriptions = await attachSubscriptionServer({
        server: http.server,
        path: '/graphql',
        planner: currentPlanner,
        verifier,
        subgraphUrl: (name) =>
          subgraphUrl(name, subgraphsOf(manager.supergraphSdl).find((e) => e.name === name)?.url ?? ''),
        logger,
        metrics: subscriptionMetrics,
        subscriber: wsSubscriber,
        redisPrefix: config.REDIS_PREFIX,
        upstreamHeaders: ingress,
        limits: currentLimits,
        redis,
        windows,
        newDocuments,
        config,
        recheck: new SessionRecheck(config, logger),
      });
      lifecycle.to('serving');
      return bound;
    } catch (err) {
      lifecycle.to('stopped');
      handler = undefined;
      schemaDocumentHandler = undefined;
      await apollo?.stop().catch(() => undefined);
      await release();
      throw err;
    }
  };

  const stop = async (): Promise<void> => {
    if (lifecycle.state === 'stopped') return;
    lifecycle.to('stopped');
    handler = undefined;
    schemaDocumentHandler = undefined;
    // Drains in-flight requests (ApolloServerPluginDrainHttpServer), stops the gateway (and the
    // supergraph watcher), then the HTTP shell, then the connections.
    await subscriptions?.dispose();
    subscriptions = undefined;
    await apollo?.stop();
    await http.stop();
    await release();
  };

  return {
    start,
    stop,
    app: http.app,
    get state() {
      return lifecycle.state;
    },
  };
}
