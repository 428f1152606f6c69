/**
 * `make db-init`: prepares PostgreSQL with lib/db-bootstrap (roles, database, extensions, platform
 * migrations, grants). Needs the superuser URL `DATABASE_ADMIN_URL`; safe to run any number of
 * times, also when the roles and the database already exist.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig, PROJECT_ROOT } from '../lib/config.js';
import { initDatabase } from '../lib/db-bootstrap.js';
import { PLATFORM_MIGRATIONS } from '../schema/platform-migrations.js';

/** Errors that mean "cannot reach or log in to PostgreSQL" (node and PostgreSQL codes). */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  '28000', // invalid_authorization_specification
  '28P01', // invalid_password
  '3D000', // invalid_catalog_name
  '57P03', // cannot_connect_now
]);

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const started = Date.now();
  try {
    await initDatabase(config, PLATFORM_MIGRATIONS);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown }).code;
    console.error(`database initialisation failed: ${message}`);
    if (typeof code === 'string' && CONNECTION_ERRORS.has(code)) {
      console.error(`  admin URL: ${redactUrl(config.DATABASE_ADMIN_URL)} (DATABASE_ADMIN_URL, a superuser)`);
      console.error(`  owner URL: ${redactUrl(config.DATABASE_OWNER_URL)} (DATABASE_OWNER_URL)`);
      console.error('  Is PostgreSQL 15 running and reachable with these URLs? See README, "Prerequisites".');
    } else {
      const folders = PLATFORM_MIGRATIONS.map((m) => path.relative(PROJECT_ROOT, m.folder)).join(', ');
      console.error(`  platform migrations are read from: ${folders}`);
    }
    process.exit(1);
  }
  const schemas = PLATFORM_MIGRATIONS.map((m) => m.schema).join(', ');
  console.log(
    `database ready: ${redactUrl(config.DATABASE_URL)} (platform schemas: ${schemas}; ${Date.now() - started} ms)`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
