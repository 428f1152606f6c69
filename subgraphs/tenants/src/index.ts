/** Entry of the tenants subgraph process (port config.TENANTS_PORT). */
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadTenantsConfig } from './config.js';
import { createTenantsService } from './service.js';

const config = loadTenantsConfig();
const logger = createLogger(config, 'tenants');
await runUntilSignal([createTenantsService(config, { logger })], logger);
