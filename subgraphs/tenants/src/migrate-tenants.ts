/**
 * Brings every ACTIVE tenant schema to its template's current version (the Makefile's
 * `migrate-tenants` target): `tsx subgraphs/tenants/src/migrate-tenants.ts [--template=<name>]`.
 * Exits 1 when any tenant failed (each failure is logged; the others were migrated).
 */
import { createLogger } from '../../../lib/logger.js';
import { loadTenantsConfig } from './config.js';
import { runMigrateTenants } from './jobs/migrate-tenants.job.js';

const config = loadTenantsConfig();
const logger = createLogger(config, 'migrate-tenants');
const template = process.argv.find((a) => a.startsWith('--template='))?.slice('--template='.length);
const result = await runMigrateTenants(config, logger, { template });
logger.info({ tenants: result.tenants, migrated: result.migrated, failed: result.failed.length }, 'done');
process.exitCode = result.failed.length > 0 ? 1 : 0;
