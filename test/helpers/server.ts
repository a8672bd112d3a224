// Starts the real server (real HTTP, real database) for a test, with its log lines captured.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe } from 'vitest';
import { type RunningServer, startServer } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config.js';
import { createAuthModule } from '../../src/modules/auth/index.js';
import type { SecretsProvider } from '../../src/providers/provider.js';
import { TestFixture } from './fixture.js';
import { createTestPostgres, POSTGRES_AVAILABLE, type TestPostgres } from './postgres.js';

export type Dialect = 'sqlite' | 'postgres';
/** The databases this machine can test on: PostgreSQL only where a server answers. */
export const DIALECTS: Dialect[] = POSTGRES_AVAILABLE ? ['sqlite', 'postgres'] : ['sqlite'];

/**
 * `describe.each` over both databases (`%s` in the title is the dialect). Where no PostgreSQL server
 * answers, its suite is reported as skipped, not left out: the count of what did not run stays visible.
 */
export function describeDialects(title: string, body: (dialect: Dialect) => void): void {
  for (const dialect of ['sqlite', 'postgres'] as const) {
    describe.skipIf(dialect === 'postgres' && !POSTGRES_AVAILABLE)(title.replace('%s', dialect), () => body(dialect));
  }
}

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
  body: any;
}

export interface RequestOptions {
  key?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

/** One HTTP request as a client would send it: Bearer key, JSON body; the answer parsed when it is JSON. */
export async function httpRequest(baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.key) headers.authorization ??= `Bearer ${options.key}`;
  let body = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(baseUrl + path, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}

export interface TestServer {
  url: string;
  fixture: TestFixture;
  server: RunningServer;
  /** The SQLite database file (sqlite dialect only), for tests that inspect what is stored. */
  databasePath?: string;
  /** The PostgreSQL database URL (postgres dialect only), for tests that inspect what is stored. */
  databaseUrl?: string;
  /** Every log line written so far, raw. */
  logs: string[];
  /** A new organization with one API key. */
  newOrg(): Promise<{ orgId: string; key: string; keyId: string }>;
  revokeKey(keyId: string): Promise<void>;
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  dialect: Dialect;
  fixture?: TestFixture;
  env?: Record<string, string>;
  /** Serve an existing database (a SQLite file path or a PostgreSQL URL of `dialect`), left in place at close: restarts, key rotation. */
  database?: string;
  /** Replaces the configured provider, e.g. to count its calls (given the fixture file's path). */
  provider?: (fixturePath: string) => SecretsProvider;
}

export async function startTestServer({
  dialect,
  fixture = new TestFixture(),
  env = {},
  database,
  provider,
}: TestServerOptions): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-test-'));
  let postgres: TestPostgres | undefined;
  if (dialect === 'postgres' && !database) postgres = await createTestPostgres();
  const databaseUrl = dialect === 'postgres' ? (database ?? postgres?.url) : undefined;
  const databasePath = dialect === 'sqlite' ? (database ?? join(dir, 'sesame.db')) : undefined;
  const config = loadConfig({
    DATABASE_URL: databaseUrl ?? `sqlite:${databasePath}`,
    SESAME_MASTER_KEY: randomBytes(32).toString('base64'),
    SESAME_ONEPASSWORD_FIXTURE: fixture.path,
    PORT: '0',
    LOG_LEVEL: 'debug',
    ...env,
  });
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const server = await startServer(config, { logStream, bootstrap: false, provider: provider?.(fixture.path) });
  // Organizations and keys have no API yet: tests create them as the CLI does, through the service.
  const auth = () => createAuthModule({ db: server.database.db }).service;

  return {
    url: server.url,
    fixture,
    server,
    databasePath,
    databaseUrl,
    logs,
    async newOrg() {
      const org = await auth().createOrganization(`org-${randomBytes(3).toString('hex')}`);
      const issued = await auth().issueApiKey(org.id);
      return { orgId: org.id, key: issued.key, keyId: issued.id };
    },
    async revokeKey(keyId) {
      await auth().revokeApiKey(keyId);
    },
    request(method, path, options = {}) {
      return httpRequest(server.url, method, path, options);
    },
    async close() {
      await server.close();
      await postgres?.drop();
      fixture.remove();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
