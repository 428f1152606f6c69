import { defineConfig } from 'drizzle-kit';

// Generates the platform migrations of the `trading` schema (`npx drizzle-kit generate --config
// subgraphs/trading/drizzle.config.ts`). Applied by lib/db-bootstrap (record table trading.__migrations).
// Tenant tables have their own config: drizzle.tenant.config.ts.
export default defineConfig({
  dialect: 'postgresql',
  schema: './subgraphs/trading/src/db/schema.ts',
  out: './subgraphs/trading/migrations/platform',
  schemaFilter: ['trading'],
  casing: 'snake_case',
});
