import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// Tiers by suffix: unit (*.test.ts), integration (*.int.test.ts: real Postgres, Redis, OpenSSH) and
// end-to-end (*.e2e.test.ts: services + gateway over HTTP and graphql-ws). Each file owns its namespace
// (database, Redis key prefix, BullMQ prefix), so files run in parallel.
const exclude = ['node_modules/**', 'data/**'];

// One graphql-js, as under plain Node: vite would resolve `graphql` in our files to its ESM build
// (`module` field) while Apollo's CommonJS packages require its CommonJS build, and graphql-js's
// `instanceof` checks fail across the two copies. Our imports get the CommonJS entry too.
const graphqlEntry = createRequire(import.meta.url).resolve('graphql');

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlEntry }] },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: [...exclude, '**/*.int.test.ts', '**/*.e2e.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'int',
          include: ['**/*.int.test.ts'],
          exclude,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['**/*.e2e.test.ts'],
          exclude,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
