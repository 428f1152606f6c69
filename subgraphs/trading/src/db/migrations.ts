import { platformMigrationsFolder, type PlatformMigration } from '../../../../lib/db-bootstrap.js';

/** The `trading` platform schema, owned by trading (applied by lib/db-bootstrap, record `trading.__migrations`). */
export const tradingPlatformMigrations: PlatformMigration = {
  owner: 'trading',
  schema: 'trading',
  folder: platformMigrationsFolder('trading'),
};
