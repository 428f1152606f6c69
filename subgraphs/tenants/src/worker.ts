/**
 * Entry of the tenants worker process (provisioning, backups and migrate-tenants jobs); SIGTERM
 * closes the workers. It lowers its own CPU priority first (TENANTS_WORKER_NICE): background work
 * yields to the services that answer requests.
 */
import os from 'node:os';
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadTenantsConfig } from './config.js';
import { createTenantsWorker } from './jobs/worker.js';

const config = loadTenantsConfig();
const logger = createLogger(config, 'tenants-worker');
if (config.TENANTS_WORKER_NICE > 0) {
  try {
    // Raising one's own niceness needs no privilege; only lowering it would.
    os.setPriority(Math.max(os.getPriority(), config.TENANTS_WORKER_NICE));
  } catch (err) {
    logger.warn({ err }, 'could not lower the worker CPU priority');
  }
}
// Not awaited at the top level: dist/ runs this entry as a CommonJS bundle (scripts/build.ts). A
// failed start is an unhandled rejection, which ends the process with code 1 as before.
void runUntilSignal([createTenantsWorker(config, { logger })], logger);
