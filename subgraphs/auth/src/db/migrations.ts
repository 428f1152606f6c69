import { platformMigrationsFolder, type PlatformMigration } from '../../../../lib/db-bootstrap.js';

/** The `auth` platform schema, owned by auth (applied by lib/db-bootstrap, record `auth.__migrations`). */
export const authPlatformMigrations: PlatformMigration = {
  owner: 'auth',
  schema: 'auth',
  folder: platformMigrationsFolder('auth'),
};
