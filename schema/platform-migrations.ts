/**
 * The platform migrations of every subgraph that has a platform schema, in the order they are applied
 * (`make db-init`, the run command, test setup). Each entry is declared by its subgraph; this list only
 * composes them, as `subgraphs.ts` composes the schemas.
 */
import type { PlatformMigration } from '../lib/db-bootstrap.js';
import { authPlatformMigrations } from '../subgraphs/auth/src/db/migrations.js';
import { marketDataPlatformMigrations } from '../subgraphs/market-data/src/db/migrations.js';
import { tenantsPlatformMigrations } from '../subgraphs/tenants/src/db/migrations.js';
import { tradingPlatformMigrations } from '../subgraphs/trading/src/db/migrations.js';

export const PLATFORM_MIGRATIONS: readonly PlatformMigration[] = [
  authPlatformMigrations,
  tenantsPlatformMigrations,
  marketDataPlatformMigrations,
  tradingPlatformMigrations,
];
