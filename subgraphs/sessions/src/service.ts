import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { parse } from 'graphql';
import { AccessTokenVerifier } from '../../../lib/auth.js';
import { PROJECT_ROOT, type Config } from '../../../lib/config.js';
import { buildRequestContext } from '../../../lib/context.js';
import { createHttpService, type HttpService, type Service } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createMetrics } from '../../../lib/metrics.js';
import { createRedis, pingRedis, type Redis } from '../../../lib/redis.js';
import type { SessionsContext } from './context.js';
import { mountInternalRoutes } from './internal.routes.js';
import { resolvers } from './resolvers/index.js';
import { SessionRepository } from './session.repository.js';
import { SessionService } from './session.service.js';
import { createSessionsMetrics } from './sessions.metrics.js';

/** Optional collaborators, for tests. */
export interface SessionsDeps {
  /** Clock in epoch milliseconds; defaults to `Date.now`. */
  now?: () => number;
}

/**
 * The sessions subgraph on `config.SESSIONS_PORT`: sessions in Redis, refresh-token rotation,
 * revocation (published on Redis), and the internal liveness endpoint. Nothing connects until
 * `start()`.
 */
export function createSessionsService(config: Config, deps: SessionsDeps = {}): Service {
  let running: { http: HttpService; redis: Redis } | undefined;

  return {
    async start() {
      if (running) throw new Error('sessions service already started');
      const logger = createLogger(config, 'sessions');
      const metrics = createMetrics('sessions');
      const redis = createRedis(config, 'commands', `${config.REDIS_PREFIX}sessions:`);
      const sessions = new SessionService(
        new SessionRepository(redis),
        redis,
        config,
        createSessionsMetrics(metrics.registry),
        logger,
        deps.now,
      );
      // Zero trust: tokens are verified again here; liveness is answered from our own store.
      const verifier = new AccessTokenVerifier(config, {
        isLive: async (id) => (await sessions.liveness(id)) === 'live',
      });
      const typeDefs = parse(
        readFileSync(path.join(PROJECT_ROOT, 'subgraphs/sessions/schema.graphql'), 'utf8'),
      );
      const http = createHttpService<SessionsContext>({
        name: 'sessions',
        config,
        port: config.SESSIONS_PORT,
        logger,
        metrics,
        readiness: { redis: () => pingRedis(redis) },
        graphql: {
          schema: buildSubgraphSchema({
            typeDefs,
            // Codegen's resolver types are stricter than @apollo/subgraph's map; the shapes agree.
            resolvers: resolvers as GraphQLResolverMap<unknown>,
          }),
          context: async (req) => ({
            ...(await buildRequestContext({
              headers: req.headers,
              remoteAddress: req.socket.remoteAddress,
              verifier,
              config,
              logger,
            })),
            sessions,
          }),
        },
        routes: (app) => mountInternalRoutes(app, config, sessions),
        onStop: [
          async () => {
            await redis.quit().catch(() => redis.disconnect());
          },
        ],
      });
      try {
        const address = await http.start();
        running = { http, redis };
        return address;
      } catch (err) {
        await http.stop().catch(() => undefined);
        throw err;
      }
    },
    async stop() {
      const r = running;
      running = undefined;
      if (r) await r.http.stop();
    },
  };
}
