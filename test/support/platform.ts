/**
 * Starts the whole platform in-process for end-to-end tests: sessions, auth, tenants, the tenants
 * worker, market-data, trading, analytics and the gateway, on the free ports of a {@link TestEnv}, in dependency order, and stops them
 * in reverse order.
 */
import { createGateway } from '../../gateway/src/gateway.js';
import type { Service } from '../../lib/http.js';
import { createAnalyticsService } from '../../subgraphs/analytics/src/service.js';
import { createAuthService } from '../../subgraphs/auth/src/service.js';
import { createMarketDataService } from '../../subgraphs/market-data/src/service.js';
import { createSessionsService } from '../../subgraphs/sessions/src/service.js';
import { createTenantsWorker } from '../../subgraphs/tenants/src/jobs/worker.js';
import { createTenantsService } from '../../subgraphs/tenants/src/service.js';
import { createTradingService } from '../../subgraphs/trading/src/service.js';
import type { TestEnv } from './env.js';

export interface RunningPlatform {
  gatewayUrl: string;
  /** Base URL (`http://127.0.0.1:<port>`) of every process started, the tenants worker's included. */
  serviceUrls: string[];
  stop(): Promise<void>;
}

/** Starts every service of the spine; see {@link RunningPlatform}. */
export async function startPlatform(env: TestEnv): Promise<RunningPlatform> {
  const c = env.config;
  const services: Service[] = [
    createSessionsService(c),
    createAuthService(c),
    createTenantsService(c),
    createTenantsWorker(c),
    createMarketDataService(c),
    createTradingService(c),
    createAnalyticsService(c),
    createGateway(c),
  ];
  const started: Service[] = [];
  let gatewayUrl = '';
  const serviceUrls: string[] = [];
  try {
    for (const s of services) {
      const { url } = await s.start();
      started.push(s);
      gatewayUrl = url;
      serviceUrls.push(url);
    }
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    throw err;
  }
  return {
    gatewayUrl: `${gatewayUrl}/graphql`,
    serviceUrls,
    async stop() {
      for (const s of [...started].reverse()) await s.stop().catch(() => undefined);
    },
  };
}

export { gql, type GraphQLResult } from './graphql.js';
export { eventually } from './wait.js';
export { ingressHeaders, ingressWebSocket } from './ingress.js';
