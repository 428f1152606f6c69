import { defineConfig } from 'drizzle-kit';

// Analytics tables of the `trading` tenant template, created in every tenant schema by the tenants
// worker (schema/templates/trading.json). Unqualified on purpose; see src/db/schema.ts.
export default defineConfig({
  dialect: 'postgresql',
  schema: './subgraphs/analytics/src/db/schema.ts',
  out: './subgraphs/analytics/migrations/tenant',
  casing: 'snake_case',
});
