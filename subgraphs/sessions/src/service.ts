import { unavailable } from '../../../lib/errors.js';
import type { HttpService, Service } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createMetrics } from '../../../lib/metrics.js';
import { createRedis, pingRedis, type Redis } from '../../../lib/redis.js';
import {
  closeConnections,
  createSubgraphHttp,
  createSubgraphVerifier,
  startHttp,
} from '../../../lib/subgraph-service.js';
import type { SessionsConfig } from './config.js';
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
export function createSessionsService(config: SessionsConfig, deps: SessionsDeps = {}): Service {
  let running: { http: HttpService; redis: Redis } | undefined;

  return {
    async start() {
      if (running) throw new Error('sessions service already started');
      const logger = createLogger(config, 'sessions');
      const metrics = createMetrics('sessions');
      const redis = createRedis(config, 'commands', `${config.REDIS_PREFIX}sessions:`, { logger });
      const sessions = new SessionService(
        new SessionRepository(redis),
        redis,
        config,
        createSessionsMetrics(metrics.registry),
        logger,
        deps.now,
      );
      // Zero trust: tokens are verified again here; liveness is answered from our own store. A store
      // that cannot answer (Redis failing over) refuses retryably, as lib/auth's cached check does.
      const verifier = createSubgraphVerifier(config, {
        isLive: async (id) => {
          try {
            return (await sessions.liveness(id)) === 'live';
          } catch (err) {
            logger.warn({ err }, 'session liveness unavailable');
            throw unavailable('Could not confirm the session; retry');
          }
        },
      });
      const { http } = createSubgraphHttp({
        name: 'sessions',
        config,
        port: config.SESSIONS_PORT,
        logger,
        metrics,
        readiness: { redis: () => pingRedis(redis) },
        resolvers,
        verifier,
        context: (base): SessionsContext => ({ ...base, sessions }),
        routes: (app) => mountInternalRoutes(app, config, sessions),
        onStop: [() => closeConnections(redis)],
      });
      const address = await startHttp(http);
      running = { http, redis };
      return address;
    },
    async stop() {
      const r = running;
      running = undefined;
      if (r) await r.http.stop();
    },
  };
}
