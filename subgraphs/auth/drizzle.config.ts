import { defineConfig } from 'drizzle-kit';

// Generates the platform migrations of the `auth` schema (`npx drizzle-kit generate --config
// subgraphs/auth/drizzle.config.ts`). Applied by lib/db-bootstrap (record table auth.__migrations).
export default defineConfig({
  dialect: 'postgresql',
  schema: './subgraphs/auth/src/db/schema.ts',
  out: './subgraphs/auth/migrations/platform',
  schemaFilter: ['auth'],
  casing: 'snake_case',
});
