/** Entry point of the analytics process (`tsx subgraphs/analytics/src/index.ts`). */
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadAnalyticsConfig } from './config.js';
import { createAnalyticsService } from './service.js';

const config = loadAnalyticsConfig();
const logger = createLogger(config, 'analytics');
await runUntilSignal([createAnalyticsService(config)], logger);
