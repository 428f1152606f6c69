/** Entry point of the analytics process (`tsx subgraphs/analytics/src/index.ts`). */
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadAnalyticsConfig } from './config.js';
import { createAnalyticsService } from './service.js';

const config = loadAnalyticsConfig();
const logger = createLogger(config, 'analytics');
// Not awaited at the top level: dist/ runs this entry as a CommonJS bundle (scripts/build.ts). A
// failed start is an unhandled rejection, which ends the process with code 1 as before.
void runUntilSignal([createAnalyticsService(config)], logger);
