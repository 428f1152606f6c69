import { defineConfig } from 'drizzle-kit';

// Generates the platform migrations of the `market` schema (`npx drizzle-kit generate --config
// subgraphs/market-data/drizzle.config.ts`). Applied by lib/db-bootstrap (record table market.__migrations).
// The partitioned `ticks` table, its maintenance functions and the instrument seed are a custom
// migration: drizzle-kit does not model declarative partitioning.
export default defineConfig({
  dialect: 'postgresql',
  schema: './subgraphs/market-data/src/db/schema.ts',
  out: './subgraphs/market-data/migrations/platform',
  schemaFilter: ['market'],
  casing: 'snake_case',
});
