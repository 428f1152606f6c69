import { platformMigrationsFolder, type PlatformMigration } from '../../../../lib/db-bootstrap.js';

/** The `tenancy` platform schema, owned by tenants (applied by lib/db-bootstrap, record `tenancy.__migrations`). */
export const tenantsPlatformMigrations: PlatformMigration = {
  owner: 'tenants',
  schema: 'tenancy',
  folder: platformMigrationsFolder('tenants'),
  grantExecute: true,
};
