/**
 * Entry of the tenants worker process (provisioning, backups and migrate-tenants jobs); SIGTERM
 * closes the workers. It lowers its own CPU priority first (TENANTS_WORKER_NICE), and its session's
 * when it leads one, as under `make dev` and `make prod` (lib/cpu-priority.ts: with autogroup
 * scheduling a nice value alone does not make it yield): background work, its pg_dump children
 * included, yields to the services that answer requests.
 */
import { lowerCpuPriority } from '../../../lib/cpu-priority.js';
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadTenantsConfig } from './config.js';
import { createTenantsWorker } from './jobs/worker.js';

const config = loadTenantsConfig();
const logger = createLogger(config, 'tenants-worker');
if (config.TENANTS_WORKER_NICE > 0) {
  try {
    // Raising one's own niceness needs no privilege; only lowering it would.
    lowerCpuPriority(config.TENANTS_WORKER_NICE);
  } catch (err) {
    logger.warn({ err }, 'could not lower the worker CPU priority');
  }
}
// Not awaited at the top level: dist/ runs this entry as a CommonJS bundle (scripts/build.ts). A
// failed start is an unhandled rejection, which ends the process with code 1 as before.
void runUntilSignal([createTenantsWorker(config, { logger })], logger);
