/** Entry of the tenants subgraph process (port config.TENANTS_PORT). */
import { loadConfig } from '../../../lib/config.js';
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createTenantsService } from './service.js';

const config = loadConfig();
const logger = createLogger(config, 'tenants');
await runUntilSignal([createTenantsService(config, { logger })], logger);
