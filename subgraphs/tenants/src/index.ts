/** Entry of the tenants subgraph process (port config.TENANTS_PORT). */
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadTenantsConfig } from './config.js';
import { createTenantsService } from './service.js';

const config = loadTenantsConfig();
const logger = createLogger(config, 'tenants');
// Not awaited at the top level: dist/ runs this entry as a CommonJS bundle (scripts/build.ts). A
// failed start is an unhandled rejection, which ends the process with code 1 as before.
void runUntilSignal([createTenantsService(config, { logger })], logger);
