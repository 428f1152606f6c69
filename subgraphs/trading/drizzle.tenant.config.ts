import { defineConfig } from 'drizzle-kit';

// The `trading` tenant template: tables created in every tenant schema by the tenants worker
// (schema/templates/trading.json). Unqualified on purpose; see src/db/tenant-schema.ts.
export default defineConfig({
  dialect: 'postgresql',
  schema: './subgraphs/trading/src/db/tenant-schema.ts',
  out: './subgraphs/trading/migrations/tenant',
  casing: 'snake_case',
});
