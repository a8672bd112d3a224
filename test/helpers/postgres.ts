// Each test file that needs PostgreSQL gets its own database on the machine's server, dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { POSTGRES_ADMIN_URL } from './postgres-url.js';

export { POSTGRES_ADMIN_URL };

/**
 * Whether a PostgreSQL server answers (test/global-setup.ts, which printed a line if not). Suites
 * that need one skip themselves without it: `describe.skipIf(!POSTGRES_AVAILABLE)`.
 */
export const POSTGRES_AVAILABLE: boolean = inject('postgres');

export interface TestPostgres {
  url: string;
  drop(): Promise<void>;
}

export async function createTestPostgres(): Promise<TestPostgres> {
  const name = `sesame_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
