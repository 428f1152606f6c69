import { defineConfig } from 'vitest/config';

// Tiers by suffix: unit (*.test.ts), integration (*.int.test.ts: real Postgres, Redis, OpenSSH) and
// end-to-end (*.e2e.test.ts: services + gateway over HTTP and graphql-ws). Each file owns its namespace
// (database, Redis key prefix, BullMQ prefix), so files run in parallel.
const exclude = ['node_modules/**', 'data/**'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: [...exclude, '**/*.int.test.ts', '**/*.e2e.test.ts'],
        },
      },
      {
        test: {
          name: 'int',
          include: ['**/*.int.test.ts'],
          exclude,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
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
