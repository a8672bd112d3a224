// `sesame serve` on a database or fixture it cannot use: it stops at once (within the documented
// connect deadline for PostgreSQL, never twice it), exits non-zero, and says in one line which file,
// or which host and port of DATABASE_URL, is at fault. /readyz never says ready on a database that
// cannot be written.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECT_TIMEOUT_MS } from '../src/db/database.js';
import { BIN, serve } from './helpers/cluster.js';
import { createTestPostgres, POSTGRES_AVAILABLE } from './helpers/postgres.js';
import { makeReadOnly } from './helpers/read-only.js';

let dir: string;
const masterKey = randomBytes(32).toString('base64');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sesame-startup-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `sesame <args>` to its end: exit code, stderr, and how long it took. */
function sesame(env: Record<string, string>, args = ['serve']): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env }, timeout: 30_000 },
      (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr, ms: Date.now() - started }),
    );
  });
}

/** Refused in one line that says `expected`. */
function expectRefused(result: { code: number | null; stderr: string }, ...expected: (string | RegExp)[]): void {
  expect(result.code, result.stderr).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^sesame: /);
  for (const part of expected) expect(lines[0]).toMatch(part);
}

describe('start-up on a SQLite file it cannot use', () => {
  it('refuses a file that is not a SQLite database, naming it', async () => {
    const path = join(dir, 'corrupt.db');
    writeFileSync(path, 'this is not a database, but it is long enough to have a header of sorts'.repeat(100));
    expectRefused(
      await sesame({ DATABASE_URL: `sqlite:${path}`, SESAME_MASTER_KEY: masterKey }),
      path,
      /not a SQLite database or it is damaged/,
    );
  });

  it('refuses a read-only database file, naming it', async () => {
    const data = join(dir, 'ro-file');
    const path = join(data, 'sesame.db');
    expect((await sesame({ DATABASE_URL: `sqlite:${path}`, SESAME_MASTER_KEY: masterKey }, ['migrate'])).code).toBe(0);
    const undo = makeReadOnly(path);
    try {
      expectRefused(await sesame({ DATABASE_URL: `sqlite:${path}`, SESAME_MASTER_KEY: masterKey }), path, /the file is read-only/);
    } finally {
      undo();
    }
  });

  it('refuses a read-only data directory, naming it', async () => {
    const data = join(dir, 'ro-dir');
    mkdirSync(data);
    const undo = makeReadOnly(data);
    try {
      // No database yet: the directory itself is at fault.
      expectRefused(await sesame({ DATABASE_URL: `sqlite:${join(data, 'sesame.db')}` }), data);
      // Nor can a database in a read-only directory keep its WAL beside it.
      const nested = join(data, 'deeper', 'sesame.db');
      expectRefused(await sesame({ DATABASE_URL: `sqlite:${nested}` }), data);
    } finally {
      undo();
    }
  });

  it('/readyz answers 503 once the database file cannot be written, and 200 again when it can', async () => {
    const data = join(dir, 'ready');
    mkdirSync(data);
    const path = join(data, 'sesame.db');
    const server = await serve({ PATH: process.env.PATH ?? '', DATABASE_URL: `sqlite:${path}`, SESAME_MASTER_KEY: masterKey, PORT: '0' });
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      const undo = makeReadOnly(path);
      try {
        const refused = await fetch(`${server.url}/readyz`);
        expect(refused.status).toBe(503);
        expect(await refused.json()).toEqual({ detail: 'The database cannot be written' });
      } finally {
        undo();
      }
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});

describe('start-up on a PostgreSQL server it cannot use', () => {
  let silent: Server;
  let silentPort: number;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    // Accepts connections and never answers: a frozen server, or a firewall that swallows packets.
    silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  const postgres = (url: string) => ({ DATABASE_URL: url, SESAME_MASTER_KEY: masterKey });

  it('refuses an address where nothing listens, naming host and port, at once and without the password', async () => {
    const closed = createServer();
    const port = await new Promise<number>((resolve) =>
      closed.listen(0, '127.0.0.1', () => resolve((closed.address() as { port: number }).port)),
    );
    await new Promise((resolve) => closed.close(resolve));
    const result = await sesame(postgres(`postgres://sesame:hunter2secret@127.0.0.1:${port}/sesame`));
    expectRefused(result, `127.0.0.1:${port}`, /DATABASE_URL/, /connection refused/);
    expect(result.stderr).not.toContain('hunter2secret');
  });

  it('refuses a host name that does not resolve, naming it', async () => {
    expectRefused(
      await sesame(postgres('postgres://sesame@no-such-host.invalid:5432/sesame')),
      'no-such-host.invalid:5432',
      /unknown host/,
    );
  });

  it(`gives up on a server that never answers after the connect deadline (${CONNECT_TIMEOUT_MS / 1000} s), not twice it`, async () => {
    const result = await sesame(postgres(`postgres://sesame@127.0.0.1:${silentPort}/sesame`));
    expectRefused(result, `127.0.0.1:${silentPort}`, /no answer within the connect deadline/);
    expect(result.ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS);
    // Node's start-up and the shutdown take about a second; a second attempt would add five.
    expect(result.ms).toBeLessThan(CONNECT_TIMEOUT_MS + 3_000);
  });

  it('the operator commands give up the same way', async () => {
    const result = await sesame(postgres(`postgres://sesame@127.0.0.1:${silentPort}/sesame`), ['org', 'list']);
    expectRefused(result, `127.0.0.1:${silentPort}`);
    expect(result.ms).toBeLessThan(CONNECT_TIMEOUT_MS + 3_000);
  });

  it.skipIf(!POSTGRES_AVAILABLE)('refuses a database that does not exist, and one that is read-only', async () => {
    const db = await createTestPostgres();
    try {
      const missing = new URL(db.url);
      missing.pathname = '/sesame_no_such_database';
      expectRefused(await sesame(postgres(missing.toString())), /database "sesame_no_such_database" does not exist/);
      const name = new URL(db.url).pathname.slice(1);
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      await admin.query(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
      await admin.end();
      expectRefused(await sesame(postgres(db.url)), /read-only/, /DATABASE_URL/);
    } finally {
      await db.drop();
    }
  });
});

describe('start-up on a fixture file of the wrong shape', () => {
  it('is refused with the path and the first problem', async () => {
    const path = join(dir, 'fixture.json');
    writeFileSync(path, JSON.stringify({ tokens: {}, vaults: { v1: { title: 'x', items: [{ id: 'i', title: 't', fields: 'none' }] } } }));
    chmodSync(path, 0o644);
    expectRefused(
      await sesame({
        DATABASE_URL: `sqlite:${join(dir, 'f', 'sesame.db')}`,
        SESAME_MASTER_KEY: masterKey,
        SESAME_ONEPASSWORD_FIXTURE: path,
      }),
      path,
      /SESAME_ONEPASSWORD_FIXTURE/,
      /vaults\["v1"\]\.items\[0\]\.fields: expected an array/,
    );
  });
});
