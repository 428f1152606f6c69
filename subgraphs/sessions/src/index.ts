/** Entry point of the sessions process (`tsx subgraphs/sessions/src/index.ts`). */
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadSessionsConfig } from './config.js';
import { createSessionsService } from './service.js';

const config = loadSessionsConfig();
const logger = createLogger(config, 'sessions');
// Not awaited at the top level: dist/ runs this entry as a CommonJS bundle (scripts/build.ts). A
// failed start is an unhandled rejection, which ends the process with code 1 as before.
void runUntilSignal([createSessionsService(config)], logger);
