import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ApolloServer, HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { Config } from './config.js';
import { ErrorCode, AppError, createErrorFormatter, httpStatusFor } from './errors.js';
import { hasServiceToken, INGRESS_REFUSAL_BODY, SERVICE_TOKEN_HEADER } from './ingress.js';
import { LeanSubgraphPipeline } from './lean-graphql.js';
import type { Logger } from './logger.js';
import { Gauge, type HttpMetrics } from './metrics.js';

/** A readiness probe: resolves true when the dependency is reachable. */
export type ReadinessCheck = () => Promise<boolean>;

/** Something started and stopped as a unit. */
export interface Service {
  /** Starts listening; resolves with the bound port (useful with port 0 in tests). */
  start(): Promise<{ port: number; url: string }>;
  /** Stops accepting work and releases every resource, in reverse order of acquisition. */
  stop(): Promise<void>;
}

export interface HttpServiceOptions<TContext extends object> {
  name: string;
  /** `SUBGRAPH_LEAN_PIPELINE` is on unless false. */
  config: Pick<Config, 'BIND_HOST' | 'introspection'> & Partial<Pick<Config, 'SUBGRAPH_LEAN_PIPELINE'>>;
  port: number;
  logger: Logger;
  metrics: HttpMetrics;
  readiness: Record<string, ReadinessCheck>;
  /**
   * Checks `/ready` reports under `optional` without failing on them (a dependency whose loss
   * degrades one feature, e.g. the MA130 for backups). They must answer at once (cache their result).
   */
  optionalChecks?: Record<string, ReadinessCheck>;
  /** Subgraph (or other) GraphQL endpoint mounted at `/graphql`. */
  graphql?: {
    schema: GraphQLSchema;
    context: (req: Request) => Promise<TContext>;
    plugins?: ApolloServerPlugin<TContext>[];
  };
  /**
   * Extra routes (REST endpoints, JWKS, internal APIs), mounted before `/graphql`. Plain GraphQL
   * POSTs ({@link isPlainGraphQLPost}) never reach them, so middleware meant for `/graphql` belongs
   * in `graphql.context` or `graphqlFastPath`.
   */
  routes?: (app: Express) => void;
  /**
   * For a service whose GraphQL server is its own (the gateway): the handlers `routes` mounts on
   * `/graphql`, run in order, without Express's router and JSON parser, for plain GraphQL POSTs (see
   * {@link isPlainGraphQLPost}); `req.body` holds the parsed body. Every other request to `/graphql`
   * still goes through `routes`. Unused with `graphql`, which gets the same fast path by itself.
   */
  graphqlFastPath?: RequestHandler[];
  /** Called on stop after the HTTP server closed, in the given order. */
  onStop?: (() => Promise<void>)[];
  /**
   * Express `trust proxy`: the peers whose `X-Forwarded-For` decides `req.ip` (addresses, CIDRs, or
   * Express's names such as `loopback`).
   * @default false (`req.ip` is the socket peer)
   */
  trustProxy?: boolean | readonly string[];
  /**
   * Who may use `/graphql` over HTTP (graphql-ws upgrades are checked where the WebSocket server is
   * made). A refused request gets 403 and a FORBIDDEN GraphQL error body before its body is read.
   * @default everyone
   */
  graphqlIngress?: (req: IncomingMessage) => boolean;
}

/** Answers a `/graphql` request refused by {@link HttpServiceOptions.graphqlIngress}. */
function refuseIngress(res: ServerResponse): void {
  res.statusCode = 403;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', Buffer.byteLength(INGRESS_REFUSAL_BODY));
  res.end(INGRESS_REFUSAL_BODY);
}

/** The HTTP shell of a service: `/health`, `/ready`, `/metrics`, JSON body parsing, a GraphQL endpoint. */
export interface HttpService extends Service {
  readonly app: Express;
  readonly server: http.Server;
}

/** Largest JSON body accepted, on the Express route and on the GraphQL fast path alike. */
export const JSON_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * True for a POST to exactly `/graphql` whose body is plain JSON (`application/json`, UTF-8 or no
 * charset, no content encoding) of a declared length within {@link JSON_BODY_LIMIT_BYTES}: what every
 * GraphQL client and the gateway send. Those skip Express's router and body parser; anything else
 * (GET, preflights, chunked or compressed bodies, other charsets, oversized or empty bodies, other
 * paths) goes through Express, whose answers therefore stay exactly as they were.
 */
export function isPlainGraphQLPost(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  if (!url.startsWith('/graphql') || (url.length > 8 && url.charCodeAt(8) !== 0x3f) /* ? */) return false;
  const headers = req.headers;
  if (headers['content-encoding'] !== undefined) return false;
  const length = Number(headers['content-length']);
  if (!(length > 0 && length <= JSON_BODY_LIMIT_BYTES)) return false;
  const type = headers['content-type'];
  return type !== undefined && PLAIN_JSON_TYPES.has(type.toLowerCase());
}

// Spellings of a JSON content type that body-parser would decode as UTF-8; anything rarer takes the
// Express route.
const PLAIN_JSON_TYPES = new Set([
  'application/json',
  'application/json; charset=utf-8',
  'application/json;charset=utf-8',
  'application/json; charset="utf-8"',
]);

/** A body that express.json() would refuse, with the status it would answer. */
class BodyError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Reads and parses a body {@link isPlainGraphQLPost} accepted, as express.json() does (strict: an
 * object or an array; a leading BOM ignored; an empty body is `{}`), rejecting with a 400
 * {@link BodyError} where it would.
 */
function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const expected = Number(req.headers['content-length']);
  return new Promise<unknown>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
    });
    // An aborted request ends in 'error' (ECONNRESET) once a listener is attached.
    req.on('error', () => reject(new BodyError('request aborted', 400)));
    req.on('end', () => {
      if (received !== expected) {
        reject(new BodyError('request size did not match content length', 400));
        return;
      }
      const buf = chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, received);
      let text = buf.toString('utf8');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.length === 0) {
        resolve({});
        return;
      }
      const c = text.charCodeAt(0);
      const first = c === 0x7b || c === 0x5b ? '{' : /^[ \t\n\r]*(.|$)/s.exec(text)?.[1];
      if (first !== '{' && first !== '[') {
        reject(new BodyError('JSON body must be an object or an array', 400));
        return;
      }
      try {
        resolve(JSON.parse(text) as unknown);
      } catch {
        reject(new BodyError('malformed JSON body', 400));
      }
    });
  });
}

/**
 * Sees a complete answer before it is written, and writes it (`write`) now or later; the gateway
 * paces refusals with it (gateway/src/refusal-pacing.ts).
 */
export type AnswerHook = (req: Request, res: Response, body: string, write: () => void) => void;

/**
 * Runs one HTTP request through Apollo Server and writes its answer, as @as-integrations/express5
 * does (same headers, status and body) except that no ETag is computed: GraphQL answers are never
 * revalidated, and hashing every body costs CPU on each request. `req.body` must hold the parsed
 * JSON body (or nothing, for GET).
 */
export async function executeGraphQLRequest<TContext extends BaseContext>(
  apollo: ApolloServer<TContext>,
  req: Request,
  res: Response,
  context: () => Promise<TContext>,
  beforeAnswer?: AnswerHook,
): Promise<void> {
  const headers = new HeaderMap();
  const incoming = req.headers;
  for (const key in incoming) {
    const value = incoming[key];
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  const url = req.url;
  const query = url.indexOf('?');
  const hash = url.indexOf('#', query);
  const search = query < 0 ? '' : hash < 0 ? url.slice(query) : url.slice(query, hash);
  const response = await apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method.toUpperCase(), headers, search, body: req.body },
    context,
  });
  if (response.body.kind === 'complete') {
    sendGraphQLAnswer(req, res, response.status ?? 200, response.headers, response.body.string, beforeAnswer);
    return;
  }
  for (const [key, value] of response.headers) res.setHeader(key, value);
  res.statusCode = response.status ?? 200;
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

/**
 * Writes a complete GraphQL answer as {@link executeGraphQLRequest} writes Apollo Server's: the
 * headers in the given order, the status, then `Content-Type` and `Content-Length` spelled as
 * Express's send spells them (so answers stay byte for byte the same), through `beforeAnswer` when
 * given. For the lean pipelines (lib/lean-graphql.ts), whose answers must equal Apollo Server's.
 */
export function sendGraphQLAnswer(
  req: Request,
  res: Response,
  status: number,
  headers: Iterable<[string, string]>,
  body: string,
  beforeAnswer?: AnswerHook,
): void {
  for (const [key, value] of headers) res.setHeader(key, value);
  res.statusCode = status;
  const write = (): void => {
    const type = res.getHeader('content-type');
    if (typeof type === 'string' && type.includes('charset=') && req.method !== 'HEAD') {
      res.setHeader('Content-Type', type);
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(body);
    } else {
      // Rare (a HEAD, a type without charset): Express's send adds the charset and drops HEAD bodies.
      res.send(body);
    }
  };
  if (beforeAnswer) beforeAnswer(req, res, body, write);
  else write();
}

/**
 * A readiness check answered from its last result while that is younger than `maxAgeMs`, and from the
 * last result while a fresh run is under way once it is older: callers never wait on the check itself
 * after its first answer, and one run at a time does the work, however often `/ready` is asked. For
 * checks that call other services: the gateway's asked every subgraph on each `/ready`, so under a
 * reconnect storm its answer took over HAProxy's one-second check timeout and HAProxy marked the
 * gateway down while it served (the chaos test's gateway kill, docs/reliability.md). The answer is
 * at most about `maxAgeMs` plus one run old.
 */
export function recentCheck(check: ReadinessCheck, maxAgeMs: number): ReadinessCheck {
  let last: { ok: boolean; at: number } | undefined;
  let running: Promise<boolean> | undefined;
  const run = (): Promise<boolean> => {
    running ??= check()
      .catch(() => false)
      .then((ok) => {
        last = { ok, at: Date.now() };
        return ok;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  return () => {
    if (!last) return run();
    if (Date.now() - last.at >= maxAgeMs) void run();
    return Promise.resolve(last.ok);
  };
}

/** A check that has not answered within this long counts as failed (a hung pool must not hang /ready). */
const CHECK_TIMEOUT_MS = 2000;

/** Runs readiness checks concurrently; a rejection or a timeout is `false`. */
async function runChecks(checks: Record<string, ReadinessCheck>): Promise<Record<string, boolean>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
        timer.unref();
      });
      const ok = await Promise.race([check().catch(() => false), timeout]);
      clearTimeout(timer);
      return [name, ok] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/**
 * `service_ready` (what /ready answers, 1/0) and `service_readiness_check{check}` (each dependency,
 * e.g. postgres, redis), evaluated when scraped, so alerts can tell "down" from "up but not ready"
 * and name the dependency that is missing.
 */
function registerReadinessGauges(metrics: HttpMetrics, readiness: Record<string, ReadinessCheck>): void {
  const { registry } = metrics;
  if (registry.getSingleMetric('service_ready')) return;
  let pending: Promise<Record<string, boolean>> | undefined;
  // Both gauges are collected in the same scrape: run the checks once for the two.
  const results = (): Promise<Record<string, boolean>> => {
    pending ??= runChecks(readiness).finally(() => {
      pending = undefined;
    });
    return pending;
  };
  new Gauge({
    name: 'service_ready',
    help: '1 when every readiness check of the process passes (what /ready answers), else 0',
    registers: [registry],
    async collect() {
      this.set(Object.values(await results()).every(Boolean) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'service_readiness_check',
    help: 'Result of each readiness check (a dependency such as postgres or redis): 1 passing, 0 failing',
    labelNames: ['check'],
    registers: [registry],
    async collect() {
      for (const [check, ok] of Object.entries(await results())) this.set({ check }, ok ? 1 : 0);
    },
  });
}

/**
 * Creates (without starting) an HTTP service with health, readiness and metrics endpoints and,
 * optionally, an Apollo Server endpoint with masked errors and no Apollo telemetry.
 */
export function createHttpService<TContext extends object>(opts: HttpServiceOptions<TContext>): HttpService {
  const app = express();
  app.disable('x-powered-by');
  const trust = opts.trustProxy ?? false;
  app.set('trust proxy', typeof trust === 'boolean' ? trust : trust.length > 0 ? [...trust] : false);
  const errorHandler = jsonErrorHandler(opts.logger);
  let fastPath: RequestHandler[] | undefined = opts.graphql ? undefined : opts.graphqlFastPath;

  /**
   * A plain GraphQL POST: the body read and parsed once, then the handlers. Requests and responses
   * are born with Express's prototypes (see {@link expressAware}), so `req.ip`, `req.accepts`,
   * `res.json` behave as in Express, `trust proxy` included. Body and handler errors answer as
   * {@link jsonErrorHandler} does for Express.
   */
  const serveFast = (req: IncomingMessage, res: ServerResponse, handlers: RequestHandler[]): void => {
    const ereq = req as Request;
    const eres = res as Response;
    // What express's app.handle and router set before the first middleware.
    ereq.res = eres;
    eres.locals = Object.create(null) as Response['locals'];
    ereq.originalUrl = req.url ?? '/graphql';
    ereq.baseUrl = '';
    const fail = (err: unknown): void => {
      if (res.headersSent) res.destroy();
      else errorHandler(err, ereq, eres, () => undefined);
    };
    readJsonBody(req).then((body) => {
      ereq.body = body;
      let i = 0;
      const next = (err?: unknown): void => {
        if (err !== undefined && err !== null) {
          fail(err);
          return;
        }
        const handler = handlers[i++];
        if (!handler) {
          // Nothing answered: what Express's final handler would say for an unmatched route.
          eres.status(404).type('text').send('Not found');
          return;
        }
        try {
          const result: unknown = handler(ereq, eres, next);
          if (result instanceof Promise) result.catch(fail);
        } catch (e) {
          fail(e);
        }
      };
      next();
    }, fail);
  };

  const server = http.createServer(expressAware(app), (req, res) => {
    const handlers = fastPath && isPlainGraphQLPost(req) ? fastPath : undefined;
    if (!handlers) {
      app(req, res);
      return;
    }
    if (opts.graphqlIngress && !opts.graphqlIngress(req)) {
      refuseIngress(res);
      return;
    }
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      opts.metrics.requestDuration.observe(
        { method: 'POST', route: '/graphql', status: String(res.statusCode) },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    });
    serveFast(req, res, handlers);
  });
  let apollo: ApolloServer<TContext> | undefined;

  app.use((req, res, next) => {
    const end = opts.metrics.requestDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      end({ route: routeLabel(req), status: String(res.statusCode) });
    });
    next();
  });
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: opts.name });
  });
  app.get('/ready', async (_req, res) => {
    const [checks, optional] = await Promise.all([
      runChecks(opts.readiness),
      runChecks(opts.optionalChecks ?? {}),
    ]);
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'unavailable',
      service: opts.name,
      checks,
      ...(opts.optionalChecks ? { optional } : {}),
    });
  });
  registerReadinessGauges(opts.metrics, opts.readiness);
  app.get('/metrics', async (_req, res) => {
    res.set('content-type', opts.metrics.registry.contentType);
    res.send(await opts.metrics.registry.metrics());
  });
  const ingress = opts.graphqlIngress;
  if (ingress) {
    // Before the body parser: a refused caller's body is never read.
    app.use('/graphql', (req, res, next) => {
      if (ingress(req)) next();
      else refuseIngress(res);
    });
  }
  app.use(express.json({ limit: JSON_BODY_LIMIT_BYTES }));
  opts.routes?.(app);

  const start = async (): Promise<{ port: number; url: string }> => {
    if (opts.graphql) {
      const g = opts.graphql;
      const formatError = createErrorFormatter(opts.logger);
      // A subgraph's own plugins may hook anything: those keep every request on Apollo's pipeline.
      const lean =
        opts.config.SUBGRAPH_LEAN_PIPELINE !== false && (g.plugins ?? []).length === 0
          ? new LeanSubgraphPipeline<TContext>({
              schema: g.schema,
              formatError,
              countError: (code) => opts.metrics.graphqlErrors.inc({ code }),
              onPath: (path) => opts.metrics.graphqlPipeline.inc({ path }),
            })
          : undefined;
      const server_ = new ApolloServer<TContext>({
        schema: g.schema,
        introspection: opts.config.introspection,
        csrfPrevention: true,
        includeStacktraceInErrorResponses: false,
        formatError,
        plugins: [
          ApolloServerPluginDrainHttpServer({ httpServer: server }),
          ApolloServerPluginLandingPageDisabled(),
          ApolloServerPluginUsageReportingDisabled(),
          ApolloServerPluginSchemaReportingDisabled(),
          // Federated traces (ftv1) would tell any caller who asks how long each resolver took.
          ApolloServerPluginInlineTraceDisabled(),
          // Apollo's cache-control plugin wraps every field resolver of every request to gather
          // @cacheControl hints; no schema here has any, so all it ever does is answer `no-store`.
          ApolloServerPluginCacheControlDisabled(),
          errorCounter(opts.metrics),
          ...(g.plugins ?? []),
          noStore(),
          ...(lean ? [lean.plugin()] : []),
        ],
      });
      apollo = server_;
      await server_.start();
      const context = (req: Request): Promise<TContext> => contextOrHttpError(g.context, req);
      app.use('/graphql', expressMiddleware(server_, { context: ({ req }) => context(req) }));
      const viaApollo = (req: Request, res: Response, ctx: () => Promise<TContext>): Promise<void> =>
        executeGraphQLRequest(server_, req, res, ctx);
      fastPath = [
        (req, res) =>
          lean
            ? lean.serve(
                req,
                res,
                () => context(req),
                (ctx) => viaApollo(req, res, ctx),
              )
            : viaApollo(req, res, () => context(req)),
      ];
    }
    app.use(errorHandler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.config.BIND_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    opts.logger.info({ port }, `${opts.name} listening`);
    return { port, url: `http://127.0.0.1:${port}` };
  };

  const stop = async (): Promise<void> => {
    if (apollo) await apollo.stop();
    if (server.listening) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    for (const fn of opts.onStop ?? []) await fn();
  };

  return { app, server, start, stop };
}

/**
 * Server options whose request and response objects are created with `app`'s Express prototypes.
 * Express otherwise swaps the prototype of both objects on every request (`Object.setPrototypeOf`),
 * which V8 handles badly: the objects leave their optimized shapes and every later property access
 * on them, in Node's HTTP code, Express and Apollo alike, gets slower. With the prototypes already
 * in place, Express's swap changes nothing.
 */
function expressAware(app: Express): http.ServerOptions {
  // Constructor functions called with `new` by Node, initializing through Node's own (function)
  // constructors: V8 gives their instances one stable shape. (Reflect.construct with a new.target,
  // or a class whose prototype is re-parented, measured far slower.)
  function AppRequest(this: IncomingMessage, socket: Socket): void {
    Reflect.apply(http.IncomingMessage, this, [socket]);
  }
  AppRequest.prototype = app.request;
  function AppResponse(this: ServerResponse, req: IncomingMessage, options?: unknown): void {
    Reflect.apply(http.ServerResponse, this, [req, options]);
  }
  AppResponse.prototype = app.response;
  return {
    IncomingMessage: AppRequest as unknown as typeof http.IncomingMessage,
    ServerResponse: AppResponse as unknown as typeof http.ServerResponse,
  };
}

/**
 * A domain error thrown while building the context (a bad or revoked token) would otherwise become
 * an HTTP 500; keep its code and answer with the matching status instead.
 */
async function contextOrHttpError<T>(build: (req: Request) => Promise<T>, req: Request): Promise<T> {
  try {
    return await build(req);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    throw new GraphQLError(err.message, {
      originalError: err,
      extensions: { code: err.code, ...err.details, http: { status: httpStatusFor(err.code) } },
    });
  }
}

function routeLabel(req: Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof route === 'string') return req.baseUrl + route;
  return req.baseUrl || (req.path.startsWith('/graphql') ? '/graphql' : 'other');
}

function errorCounter<T extends object>(metrics: HttpMetrics): ApolloServerPlugin<T> {
  return {
    requestDidStart: () =>
      Promise.resolve({
        willSendResponse: ({ response }) => {
          if (response.body.kind === 'single') {
            for (const e of response.body.singleResult.errors ?? []) {
              const code = e.extensions?.['code'];
              metrics.graphqlErrors.inc({ code: typeof code === 'string' ? code : 'UNKNOWN' });
            }
          }
          return Promise.resolve();
        },
      }),
  };
}

/**
 * `Cache-Control: no-store` on every GraphQL answer that went through the request pipeline, which is
 * what Apollo's cache-control plugin sends for a schema without @cacheControl hints.
 */
function noStore<T extends object>(): ApolloServerPlugin<T> {
  return {
    requestDidStart: () =>
      Promise.resolve({
        willSendResponse: ({ response }) => {
          if (!response.http.headers.has('cache-control'))
            response.http.headers.set('cache-control', 'no-store');
          return Promise.resolve();
        },
      }),
  };
}

/** REST errors: domain errors keep their code; everything else is logged and masked. */
function jsonErrorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (err instanceof AppError) {
      // RFC 9110: a 429 (or 503) says when to come back in the header too, not only in the body.
      const retryAfter = err.details['retryAfter'];
      if (typeof retryAfter === 'number') res.setHeader('retry-after', String(Math.ceil(retryAfter)));
      res
        .status(httpStatusFor(err.code))
        .json({ error: { code: err.code, message: err.message, ...err.details } });
      return;
    }
    const status = (err as { status?: unknown; type?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: { code: ErrorCode.BadUserInput, message: 'Malformed request' } });
      return;
    }
    logger.error({ err, path: req.path }, 'unhandled error');
    res.status(500).json({ error: { code: ErrorCode.Internal, message: 'Internal server error' } });
  };
}

/**
 * Runs services until SIGINT/SIGTERM, then stops them in reverse order of starting.
 * @returns a promise that settles once everything stopped
 */
export async function runUntilSignal(services: Service[], logger: Logger): Promise<void> {
  for (const s of services) await s.start();
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  for (const s of [...services].reverse()) {
    await s.stop().catch((err: unknown) => logger.error({ err }, 'error while stopping'));
  }
}

/**
 * Guards an internal route (`/internal/...`, called by other services): answers 401 without the
 * service token and 403 with a wrong one (compared in constant time), and marks every answer,
 * refusals included, `cache-control: no-store`. True when the caller holds the token.
 */
export function requireServiceToken(
  req: Request,
  res: Response,
  config: Pick<Config, 'SERVICE_TOKEN'>,
): boolean {
  res.set('cache-control', 'no-store');
  const token = req.headers[SERVICE_TOKEN_HEADER];
  if (token === undefined) {
    res.status(401).json({ error: { code: ErrorCode.Unauthenticated, message: 'Service token required' } });
    return false;
  }
  if (typeof token !== 'string' || !hasServiceToken({ [SERVICE_TOKEN_HEADER]: token }, config)) {
    res.status(403).json({ error: { code: ErrorCode.Forbidden, message: 'Invalid service token' } });
    return false;
  }
  return true;
}
