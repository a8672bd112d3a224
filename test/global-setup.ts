// Once per `vitest run`: is there a PostgreSQL server for the suites that need one? Without one, the
// PostgreSQL parts are reported as skipped and the rest runs, after one line that says so. CI sets
// SESAME_TEST_REQUIRE_POSTGRES=1 (.ci/run), where a missing server fails the run instead.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { POSTGRES_ADMIN_URL } from './helpers/postgres-url.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server answers at SESAME_TEST_POSTGRES_URL. */
    postgres: boolean;
    /** The run's temporary directory: each test file's TMPDIR is made in it (test/setup-tmpdir.ts). */
    tmpRoot: string;
  }
}

const PROBE_TIMEOUT_MS = 3_000;

/** Why PostgreSQL cannot be used, or undefined when it can. */
async function probe(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  // Traversable by others (0711): the private PostgreSQL of the fault suites runs as the postgres user.
  const tmpRoot = mkdtempSync(join(tmpdir(), 'sesame-vitest-'));
  chmodSync(tmpRoot, 0o711);
  project.provide('tmpRoot', tmpRoot);
  // Each project of the run calls this (each may load this file anew): the line is printed once.
  const problem = await probe();
  if (problem && process.env.SESAME_TEST_REQUIRE_POSTGRES === '1') {
    throw new Error(`SESAME_TEST_REQUIRE_POSTGRES=1 but no PostgreSQL answers at ${describe(POSTGRES_ADMIN_URL)} (${problem})`);
  }
  if (problem && !process.env.SESAME_TEST_POSTGRES_NOTICE) {
    process.env.SESAME_TEST_POSTGRES_NOTICE = 'printed';
    console.warn(
      `sesame tests: no PostgreSQL at ${describe(POSTGRES_ADMIN_URL)} (${problem}): its suites are skipped, everything else runs (SESAME_TEST_POSTGRES_URL to point elsewhere)`,
    );
  }
  project.provide('postgres', problem === undefined);
  return () => rmSync(tmpRoot, { recursive: true, force: true });
}

function describe(url: string): string {
  const { hostname, port } = new URL(url);
  return `${hostname}:${port || '5432'}`;
}
