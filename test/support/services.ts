/**
 * The door through which a test reaches a service other than the one it tests: every subgraph's
 * service factory and the test harnesses other subgraphs' tests share. A subgraph's tests never import
 * another subgraph's files (eslint.config.js `tradesage/boundaries`); they import from here.
 */
export { createAnalyticsService } from '../../subgraphs/analytics/src/service.js';
export { createAuthService } from '../../subgraphs/auth/src/service.js';
export { createMarketDataService, type MarketDataService } from '../../subgraphs/market-data/src/service.js';
export { createSessionsService } from '../../subgraphs/sessions/src/service.js';
export { QUEUES } from '../../subgraphs/tenants/src/jobs/queues.js';
export { createTenantsWorker, type TenantsWorker } from '../../subgraphs/tenants/src/jobs/worker.js';
export { createTenantsService } from '../../subgraphs/tenants/src/service.js';
export { createTradingService } from '../../subgraphs/trading/src/service.js';
export { newKeyEntry } from '../../subgraphs/tenants/test/backup/support/backup-fixtures.js';
export { provisionActive, startHarness, type Harness } from '../../subgraphs/tenants/test/support/harness.js';
