import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { withStatementCache } from '../../src/db/database.js';

describe('SQLite statement cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-db-'));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prepares each SQL text once, however often it runs', () => {
    const raw = new SqliteDatabase(join(dir, 'cache.db'));
    let prepares = 0;
    const prepare = raw.prepare.bind(raw);
    raw.prepare = ((text: string) => {
      prepares++;
      return prepare(text);
    }) as typeof raw.prepare;
    const cached = withStatementCache(raw, 2);
    cached.prepare('CREATE TABLE t (x INTEGER)').run([]);
    for (let i = 0; i < 100; i++) cached.prepare('INSERT INTO t (x) VALUES (?)').run([i]);
    expect(cached.prepare('SELECT count(*) AS n FROM t').all([])).toEqual([{ n: 100 }]);
    expect(prepares).toBe(3);
    // Bounded (2 here): new texts evict the oldest, which is then prepared again.
    cached.prepare('SELECT 1').all([]);
    cached.prepare('INSERT INTO t (x) VALUES (?)').run([101]);
    expect(prepares).toBe(5);
    raw.close();
  });
});
