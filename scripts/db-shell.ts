/**
 * `make db-shell`: psql on the platform database as the owner role (the role that owns the
 * platform schemas; tenant schemas belong to their own roles). Extra arguments go to psql.
 */
import { spawnSync } from 'node:child_process';
import { loadToolConfig } from './platform.js';

const config = loadToolConfig();
const r = spawnSync('psql', [config.DATABASE_OWNER_URL, ...process.argv.slice(2)], { stdio: 'inherit' });
if (r.error) {
  console.error(
    `could not run psql: ${r.error.message} (install the PostgreSQL client, e.g. apt-get install postgresql-client)`,
  );
  process.exit(1);
}
process.exit(r.status ?? 1);
