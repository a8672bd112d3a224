import { defineConfig } from 'vitest/config';

// Two cores: run test files in two forks; database-backed suites create their own databases.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
