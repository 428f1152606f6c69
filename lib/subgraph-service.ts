/**
 * The bootstrap every subgraph's `service.ts` shares: its federated schema from
 * `subgraphs/<name>/schema.graphql`, token verification (session liveness from the sessions service,
 * verified tokens cached), the HTTP shell with the per-request context, GraphQL (HTTP and graphql-ws)
 * only for holders of the service credential (lib/ingress; /health, /ready, /metrics and REST routes
 * stay open), starting with cleanup on failure, and releasing connections once. What differs between subgraphs (their services, clients,
 * workers and stop order) stays in their own `service.ts`.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import type { ApolloServerPlugin } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import type { Express } from 'express';
import { parse, type GraphQLSchema } from 'graphql';
import type { JWTVerifyGetKey } from 'jose';
import type pg from 'pg';
import { AccessTokenVerifier, CachedSessionLiveness, type SessionLiveness } from './auth.js';
import { PROJECT_ROOT, type Config } from './config.js';
import { buildRequestContext, type RequestContext } from './context.js';
import { createHttpService, type HttpService, type ReadinessCheck } from './http.js';
import { hasIngressCredential } from './ingress.js';
import type { Logger } from './logger.js';
import { Counter, type HttpMetrics } from './metrics.js';
import type { Redis } from './redis.js';
import { CachingAccessTokenVerifier, type HeaderVerifier } from './token-cache.js';
import { attachGraphqlWs, closeRevokedSessions, type GraphqlWsServer } from './ws-server.js';

/** How long a subgraph reuses a verified token signature (the gateway keeps them longer). */
export const SUBGRAPH_TOKEN_TTL_MS = 60_000;

/**
 * The federated schema of `subgraphs/<name>/schema.graphql` with `resolvers`.
 * @param resolvers the codegen-typed resolver map (stricter than @apollo/subgraph's; the shapes agree)
 */
export function loadSubgraphSchema(name: string, resolvers: object): GraphQLSchema {
  const typeDefs = parse(readFileSync(path.join(PROJECT_ROOT, 'subgraphs', name, 'schema.graphql'), 'utf8'));
  return buildSubgraphSchema({ typeDefs, resolvers: resolvers as GraphQLResolverMap<unknown> });
}

/**
 * The session liveness a subgraph checks tokens against: `given` when set (null skips the check, for
 * tests without a sessions service), otherwise the sessions service, cached, with revocations read
 * from Redis on `subscriber`.
 */
export async function subgraphSessionLiveness(
  config: Config,
  logger: Logger,
  subscriber: Redis,
  given: SessionLiveness | null | undefined,
): Promise<SessionLiveness | null> {
  if (given !== undefined) return given;
  const liveness = new CachedSessionLiveness(config, logger);
  await liveness.listen(subscriber, config.REDIS_PREFIX);
  return liveness;
}

/**
 * A subgraph's token verifier: signature, claims and liveness as {@link AccessTokenVerifier} checks
 * them, with verified signatures reused for {@link SUBGRAPH_TOKEN_TTL_MS} (liveness is still asked on
 * every request, and no entry outlives its token).
 * @param jwks keys to verify against instead of fetching auth's JWKS
 */
export function createSubgraphVerifier(
  config: Pick<Config, 'jwksUrl' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>,
  sessions: SessionLiveness | null,
  jwks?: JWTVerifyGetKey,
): HeaderVerifier {
  return new CachingAccessTokenVerifier(new AccessTokenVerifier(config, sessions, jwks), sessions, {
    ttlMs: SUBGRAPH_TOKEN_TTL_MS,
  });
}

/** Options of {@link createSubgraphHttp}. */
export interface SubgraphHttpOptions<TContext extends RequestContext> {
  /** The folder under `subgraphs/`, also the service's name in logs and `/health`. */
  name: string;
  config: Config;
  port: number;
  logger: Logger;
  metrics: HttpMetrics;
  readiness: Record<string, ReadinessCheck>;
  /** The codegen-typed resolver map. */
  resolvers: object;
  verifier: HeaderVerifier;
  /** Adds the subgraph's own fields (its services) to the verified request context. */
  context: (base: RequestContext) => TContext;
  plugins?: ApolloServerPlugin<TContext>[];
  /** Extra routes, mounted before `/graphql`. */
  routes?: (app: Express) => void;
  /** Called on stop after the HTTP server closed, in the given order. */
  onStop?: (() => Promise<void>)[];
}

/** Options of {@link SubgraphHttp.attachWs}. */
export interface SubgraphWsOptions {
  /** The subscriber client that receives session revocations (`channels.sessionRevoked`). */
  subscriber: Redis;
  /**
   * Whether to SUBSCRIBE the revocation channel here: false when lib's CachedSessionLiveness already
   * listens to it on `subscriber`.
   */
  subscribeRevocations: boolean;
  /**
   * Clock, epoch milliseconds (token expiry).
   * @default Date.now
   */
  now?: () => number;
}

/** A subgraph's HTTP service and the schema it serves. */
export interface SubgraphHttp {
  http: HttpService;
  schema: GraphQLSchema;
  /**
   * Serves graphql-ws on the same `/graphql` with the same schema, verifier and context (lib's
   * {@link attachGraphqlWs}), and closes the sockets of sessions revoked on Redis.
   */
  attachWs: (opts: SubgraphWsOptions) => Promise<GraphqlWsServer>;
}

/**
 * Creates (without starting) a subgraph's HTTP service: lib's {@link createHttpService} with the
 * subgraph's schema on `/graphql`, refused (403 FORBIDDEN) to callers without the service credential,
 * and a context that verifies the caller's token again (zero trust).
 */
export function createSubgraphHttp<TContext extends RequestContext>(
  opts: SubgraphHttpOptions<TContext>,
): SubgraphHttp {
  const schema = loadSubgraphSchema(opts.name, opts.resolvers);
  const { config, logger, verifier } = opts;
  const refusals = new Counter({
    name: 'subgraph_ingress_refusals_total',
    help: 'GraphQL requests and WebSocket upgrades refused for lack of the service credential',
    labelNames: ['transport'],
    registers: [opts.metrics.registry],
  });
  const allow =
    (transport: 'http' | 'ws') =>
    (req: IncomingMessage): boolean => {
      if (hasIngressCredential(req.headers, config)) return true;
      refusals.inc({ transport });
      return false;
    };
  const http = createHttpService<TContext>({
    name: opts.name,
    config,
    port: opts.port,
    logger,
    metrics: opts.metrics,
    readiness: opts.readiness,
    graphql: {
      schema,
      ...(opts.plugins ? { plugins: opts.plugins } : {}),
      context: async (req) =>
        opts.context(
          await buildRequestContext({
            headers: req.headers,
            remoteAddress: req.socket.remoteAddress,
            verifier,
            config,
            logger,
            // Every /graphql request that gets here passed `graphqlIngress` (allow('http') below).
            ingressVerified: true,
          }),
        ),
    },
    ...(opts.routes ? { routes: opts.routes } : {}),
    ...(opts.onStop ? { onStop: opts.onStop } : {}),
    graphqlIngress: allow('http'),
  });
  const attachWs = async (ws: SubgraphWsOptions): Promise<GraphqlWsServer> => {
    const server = attachGraphqlWs<TContext>({
      server: http.server,
      path: '/graphql',
      schema,
      verifier,
      logger,
      context: opts.context,
      ingress: allow('ws'),
      registry: opts.metrics.registry,
      ...(ws.now ? { now: ws.now } : {}),
    });
    await closeRevokedSessions(server, ws.subscriber, config.REDIS_PREFIX, ws.subscribeRevocations);
    return server;
  };
  return { http, schema, attachWs };
}

/**
 * Starts `http`; when that fails, runs `undo` in order, stops `http` (ignoring their errors) and
 * rethrows.
 * @returns the bound address
 */
export async function startHttp(
  http: HttpService,
  undo: readonly (() => Promise<unknown>)[] = [],
): Promise<{ port: number; url: string }> {
  try {
    return await http.start();
  } catch (err) {
    for (const fn of undo) await fn().catch(() => undefined);
    await http.stop().catch(() => undefined);
    throw err;
  }
}

/** `fn` made idempotent: the first call runs it, later calls resolve at once. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let done = false;
  return async () => {
    if (done) return;
    done = true;
    await fn();
  };
}

/**
 * Closes Redis clients (QUIT, or a hard disconnect when that fails) and pools, all at once; errors
 * are swallowed (this runs on the way out).
 */
export async function closeConnections(...connections: readonly (Redis | pg.Pool)[]): Promise<void> {
  await Promise.all(
    connections.map((c) =>
      'quit' in c ? c.quit().catch(() => c.disconnect()) : c.end().catch(() => undefined),
    ),
  );
}
