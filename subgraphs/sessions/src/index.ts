/** Entry point of the sessions process (`tsx subgraphs/sessions/src/index.ts`). */
import { loadConfig } from '../../../lib/config.js';
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createSessionsService } from './service.js';

const config = loadConfig();
const logger = createLogger(config, 'sessions');
await runUntilSignal([createSessionsService(config)], logger);
