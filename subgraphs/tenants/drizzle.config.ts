import { defineConfig } from 'drizzle-kit';

// Generates the platform migrations of the `tenancy` schema (`npx drizzle-kit generate --config
// subgraphs/tenants/drizzle.config.ts`). Applied by lib/db-bootstrap (record table tenancy.__migrations).
export default defineConfig({
  dialect: 'postgresql',
  schema: './subgraphs/tenants/src/db/schema.ts',
  out: './subgraphs/tenants/migrations/platform',
  schemaFilter: ['tenancy'],
  casing: 'snake_case',
});
