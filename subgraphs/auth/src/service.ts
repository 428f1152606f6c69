import type pg from 'pg';
import { createDb, createPool, pingDb } from '../../../lib/db.js';
import type { HttpService, Service } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createMetrics } from '../../../lib/metrics.js';
import { createRedis, pingRedis, type Redis } from '../../../lib/redis.js';
import { RequestThrottle } from '../../../lib/request-throttle.js';
import {
  closeConnections,
  createSubgraphHttp,
  createSubgraphVerifier,
  once,
  startHttp,
  subgraphSessionLiveness,
} from '../../../lib/subgraph-service.js';
import { createAuthMetrics } from './auth.metrics.js';
import { AuthService } from './auth.service.js';
import type { AuthConfig } from './config.js';
import type { AuthContext } from './context.js';
import { mountAuthRoutes } from './http.routes.js';
import { SigningKeyStore } from './keys.js';
import { LoginThrottle } from './login-throttle.service.js';
import { OidcService } from './oidc.service.js';
import { PasswordHasher } from './password-hasher.js';
import { resolvers } from './resolvers/index.js';
import { createSessionsClient, type SessionsClient } from './sessions.client.js';
import { createTenantsClient, type TenantsClient } from './tenants.client.js';
import { TokenSigner } from './token.service.js';
import { UserRepository } from './user.repository.js';

/** Optional collaborators, for tests. */
export interface AuthDeps {
  /** Clock for token timestamps, in epoch milliseconds. */
  now?: () => number;
  tenants?: TenantsClient;
  sessions?: SessionsClient;
  /** How often the key folder is re-read (ms); 0 disables the timer. */
  keyReloadMs?: number;
  /** Password hashing (tests count the argon2 work). */
  hasher?: PasswordHasher;
}

/**
 * The auth subgraph on `config.AUTH_PORT`: users and credentials, JWT signing keys and JWKS, OIDC,
 * and the sign-in mutations. Keys are created in `JWT_KEYS_DIR` when it has none. Nothing connects
 * until `start()`.
 */
export function createAuthService(config: AuthConfig, deps: AuthDeps = {}): Service {
  let running: HttpService | undefined;

  return {
    async start() {
      if (running) throw new Error('auth service already started');
      const logger = createLogger(config, 'auth');
      const metrics = createMetrics('auth');
      const keys = await SigningKeyStore.open(config.JWT_KEYS_DIR, deps.keyReloadMs);
      const pool: pg.Pool = createPool(config, config.DATABASE_URL, 'tradesage-auth');
      const redis: Redis = createRedis(config, 'commands', `${config.REDIS_PREFIX}auth:`, { logger });
      const subscriber: Redis = createRedis(config, 'subscriber', undefined, { logger });
      const release = once(async () => {
        keys.close();
        await closeConnections(redis, subscriber, pool);
      });

      try {
        const liveness = await subgraphSessionLiveness(config, logger, subscriber, undefined);
        // Our own tokens are verified against the keys in memory, not by fetching our own JWKS.
        const verifier = createSubgraphVerifier(config, liveness, keys.getKey);
        const oidc = OidcService.fromConfig(config, redis, logger);
        const authMetrics = createAuthMetrics(metrics.registry);
        const accounts = new AuthService({
          users: new UserRepository(createDb(pool)),
          hasher: deps.hasher ?? new PasswordHasher(config),
          throttle: new LoginThrottle(redis, config, (limit) => authMetrics.limitRefusals.inc({ limit })),
          registerThrottle: new RequestThrottle(redis, {
            keyPrefix: 'throttle:register-ip',
            points: config.REGISTER_THROTTLE_PER_IP,
            windowSeconds: config.REGISTER_THROTTLE_WINDOW_SECONDS,
            what: 'registrations from your address',
            onRefused: () => authMetrics.limitRefusals.inc({ limit: 'register_ip' }),
          }),
          tokens: new TokenSigner(keys, config, deps.now),
          tenants: deps.tenants ?? createTenantsClient(config),
          sessions: deps.sessions ?? createSessionsClient(config),
          metrics: authMetrics,
          logger,
          config,
        });
        const { http } = createSubgraphHttp({
          name: 'auth',
          config,
          port: config.AUTH_PORT,
          logger,
          metrics,
          readiness: { postgres: () => pingDb(pool), redis: () => pingRedis(redis) },
          resolvers,
          verifier,
          context: (base): AuthContext => ({ ...base, accounts, oidc }),
          routes: (app) => mountAuthRoutes(app, { keys, accounts, oidc }),
          onStop: [release],
        });
        const address = await startHttp(http);
        running = http;
        return address;
      } catch (err) {
        await release();
        throw err;
      }
    },
    async stop() {
      const http = running;
      running = undefined;
      if (http) await http.stop();
    },
  };
}
