/** Entry of the tenants worker process (provisioning and migrate-tenants jobs); SIGTERM closes the workers. */
import { loadConfig } from '../../../lib/config.js';
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createTenantsWorker } from './jobs/worker.js';

const config = loadConfig();
const logger = createLogger(config, 'tenants-worker');
await runUntilSignal([createTenantsWorker(config, { logger })], logger);
