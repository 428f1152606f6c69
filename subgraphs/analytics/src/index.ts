/** Entry point of the analytics process (`tsx subgraphs/analytics/src/index.ts`). */
import { loadConfig } from '../../../lib/config.js';
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createAnalyticsService } from './service.js';

const config = loadConfig();
const logger = createLogger(config, 'analytics');
await runUntilSignal([createAnalyticsService(config)], logger);
