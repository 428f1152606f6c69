import { platformMigrationsFolder, type PlatformMigration } from '../../../../lib/db-bootstrap.js';

/** The `market` platform schema, owned by market-data (applied by lib/db-bootstrap, record `market.__migrations`). */
export const marketDataPlatformMigrations: PlatformMigration = {
  owner: 'market-data',
  schema: 'market',
  folder: platformMigrationsFolder('market-data'),
  // The app role calls market's SECURITY DEFINER partition-maintenance functions.
  grantExecute: true,
};
