import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { Config } from './config.js';
import { AppError, createErrorFormatter, httpStatusFor } from './errors.js';
import type { Logger } from './logger.js';
import type { HttpMetrics } from './metrics.js';

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
  config: Pick<Config, 'BIND_HOST' | 'introspection'>;
  port: number;
  logger: Logger;
  metrics: HttpMetrics;
  readiness: Record<string, ReadinessCheck>;
  /** Subgraph (or other) GraphQL endpoint mounted at `/graphql`. */
  graphql?: {
    schema: GraphQLSchema;
    context: (req: Request) => Promise<TContext>;
    plugins?: ApolloServerPlugin<TContext>[];
  };
  /** Extra routes (REST endpoints, JWKS, internal APIs), mounted before `/graphql`. */
  routes?: (app: Express) => void;
  /** Called on stop after the HTTP server closed, in the given order. */
  onStop?: (() => Promise<void>)[];
}

/** The HTTP shell of a service: `/health`, `/ready`, `/metrics`, JSON body parsing, a GraphQL endpoint. */
export interface HttpService extends Service {
  readonly app: Express;
  readonly server: http.Server;
}

/**
 * Creates (without starting) an HTTP service with health, readiness and metrics endpoints and,
 * optionally, an Apollo Server endpoint with masked errors and no Apollo telemetry.
 */
export function createHttpService<TContext extends object>(opts: HttpServiceOptions<TContext>): HttpService {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  const server = http.createServer(app);
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
    const entries = await Promise.all(
      Object.entries(opts.readiness).map(
        async ([k, check]) => [k, await check().catch(() => false)] as const,
      ),
    );
    const checks = Object.fromEntries(entries);
    const ready = entries.every(([, ok]) => ok);
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'unavailable', service: opts.name, checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.set('content-type', opts.metrics.registry.contentType);
    res.send(await opts.metrics.registry.metrics());
  });
  app.use(express.json({ limit: '1mb' }));
  opts.routes?.(app);

  const start = async (): Promise<{ port: number; url: string }> => {
    if (opts.graphql) {
      const g = opts.graphql;
      apollo = new ApolloServer<TContext>({
        schema: g.schema,
        introspection: opts.config.introspection,
        csrfPrevention: true,
        includeStacktraceInErrorResponses: false,
        formatError: createErrorFormatter(opts.logger),
        plugins: [
          ApolloServerPluginDrainHttpServer({ httpServer: server }),
          ApolloServerPluginLandingPageDisabled(),
          ApolloServerPluginUsageReportingDisabled(),
          ApolloServerPluginSchemaReportingDisabled(),
          // Federated traces (ftv1) would tell any caller who asks how long each resolver took.
          ApolloServerPluginInlineTraceDisabled(),
          errorCounter(opts.metrics),
          ...(g.plugins ?? []),
        ],
      });
      await apollo.start();
      app.use(
        '/graphql',
        expressMiddleware(apollo, { context: ({ req }) => contextOrHttpError(g.context, req) }),
      );
    }
    app.use(jsonErrorHandler(opts.logger));
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

/** REST errors: domain errors keep their code; everything else is logged and masked. */
function jsonErrorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (err instanceof AppError) {
      res
        .status(httpStatusFor(err.code))
        .json({ error: { code: err.code, message: err.message, ...err.details } });
      return;
    }
    const status = (err as { status?: unknown; type?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: { code: 'BAD_USER_INPUT', message: 'Malformed request' } });
      return;
    }
    logger.error({ err, path: req.path }, 'unhandled error');
    res.status(500).json({ error: { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' } });
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
