/** Entry point of the sessions process (`tsx subgraphs/sessions/src/index.ts`). */
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadSessionsConfig } from './config.js';
import { createSessionsService } from './service.js';

const config = loadSessionsConfig();
const logger = createLogger(config, 'sessions');
await runUntilSignal([createSessionsService(config)], logger);
