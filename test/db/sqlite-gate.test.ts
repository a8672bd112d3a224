// The SQLite driver never waits for a lock on the event loop, and a transaction SQLite rolled back
// itself reports its real error. A second connection (same process: SQLite locks per connection) holds the lock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { withStatementCache } from '../../src/db/database.js';
import { NonBlockingSqliteDialect, SqliteGate } from '../../src/db/sqlite-driver.js';

interface T {
  v: { id: number; body: string };
}

describe('SqliteGate', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  async function open(deadlineMs = 2_000) {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-gate-'));
    dirs.push(dir);
    const raw = new Database(join(dir, 't.db'));
    raw.pragma('journal_mode = WAL');
    raw.pragma('busy_timeout = 0');
    const db = new Kysely<T>({ dialect: new NonBlockingSqliteDialect(new SqliteGate(raw, { deadlineMs }), withStatementCache(raw)) });
    await sql`CREATE TABLE v (id INTEGER PRIMARY KEY, body TEXT)`.execute(db);
    const other = new Database(join(dir, 't.db'), { timeout: 0 });
    return { raw, db, other };
  }

  it('a write behind a foreign lock waits asynchronously: timers run, reads answer, the write lands when the lock goes', async () => {
    const { db, other } = await open();
    other.exec('BEGIN IMMEDIATE');
    const write = db.transaction().execute((trx) => trx.insertInto('v').values({ id: 1, body: 'x' }).execute());
    const lateness: number[] = [];
    for (let i = 0; i < 10; i++) {
      const at = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 20));
      lateness.push(performance.now() - at - 20);
    }
    expect(Math.max(...lateness)).toBeLessThan(50);
    expect(await db.selectFrom('v').selectAll().execute()).toEqual([]); // WAL: a read does not wait for the writer
    other.exec('COMMIT');
    await write;
    expect(await db.selectFrom('v').selectAll().execute()).toEqual([{ id: 1, body: 'x' }]);
  });

  it('gives up at its deadline with SQLITE_BUSY, having changed nothing', async () => {
    const { db, other } = await open(300);
    other.exec('BEGIN IMMEDIATE');
    const started = Date.now();
    await expect(db.insertInto('v').values({ id: 2, body: 'y' }).execute()).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    other.exec('COMMIT');
    expect(await db.selectFrom('v').selectAll().execute()).toEqual([]);
  });

  it('a transaction SQLite rolled back itself (SQLITE_FULL) reports SQLITE_FULL, not "cannot rollback"', async () => {
    const { raw, db } = await open();
    raw.pragma(`max_page_count = ${Number(raw.pragma('page_count', { simple: true })) + 2}`);
    await expect(
      db.transaction().execute(async (trx) => {
        await trx
          .insertInto('v')
          .values({ id: 3, body: 'x'.repeat(20_000) })
          .execute();
      }),
    ).rejects.toMatchObject({ code: 'SQLITE_FULL' });
    expect(raw.inTransaction).toBe(false);
    raw.pragma('max_page_count = 1073741823');
    await db.insertInto('v').values({ id: 4, body: 'z' }).execute(); // the connection is usable again
  });
});
