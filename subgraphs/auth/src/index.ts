/** Entry point of the auth process (`tsx subgraphs/auth/src/index.ts`). */
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadAuthConfig } from './config.js';
import { createAuthService } from './service.js';

const config = loadAuthConfig();
const logger = createLogger(config, 'auth');
// Not awaited at the top level: dist/ runs this entry as a CommonJS bundle (scripts/build.ts). A
// failed start is an unhandled rejection, which ends the process with code 1 as before.
void runUntilSignal([createAuthService(config)], logger);
