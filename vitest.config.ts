import { defineConfig } from 'vitest/config';

// Three tiers, one run: `npm test` runs them all (two forks on two cores); each can run alone.
// - unit: plain objects beside their code in src/ (no database, no browser, no network; seconds)
// - integration: the real HTTP server on real SQLite and PostgreSQL, real worker threads, the CLI
// - e2e: real Chromium driven over CDP against local sites
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Is there a PostgreSQL server? Without one its suites are skipped, after one line that says so.
    globalSetup: ['./test/global-setup.ts'],
    // Each test file gets a TMPDIR of its own, removed when it ends: no temporary directory outlives the run.
    setupFiles: ['./test/setup-tmpdir.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: ['test/e2e/**'] } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
    ],
  },
});
