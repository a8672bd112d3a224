// Item 2: the disk under the SQLite database fills up (a 4 MB tmpfs, filled; root only). Writes answer
// 503 "storage full" with Retry-After and log the real cause once (SQLITE_FULL, never "cannot rollback"),
// reads keep working, nothing is half-written, and writes work again as soon as space returns.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createBody, uniqueName, VAULTS } from '../helpers/vaults.js';

const root = process.getuid?.() === 0;

/** Writes zeros until the file system refuses (ENOSPC). */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    const small = Buffer.alloc(512); // the last partial blocks too
    try {
      for (;;) writeSync(fd, small);
    } catch {}
  } finally {
    closeSync(fd);
  }
}

describe.runIf(root)('the disk under the SQLite database is full', () => {
  const mount = mkdtempSync(join(tmpdir(), 'sesame-full-'));
  let t: TestServer;
  let key: string;
  beforeAll(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]);
    t = await startTestServer({ dialect: 'sqlite', database: join(mount, 'sesame.db') });
    ({ key } = await t.newOrg());
  });
  afterAll(async () => {
    await t?.close();
    execFileSync('umount', ['-l', mount]);
    rmSync(mount, { recursive: true, force: true });
  });

  it('writes answer 503 storage full with Retry-After, reads work, nothing half-written, writes recover', async () => {
    const first = await t.request('POST', VAULTS, { key, body: createBody(uniqueName(), t.fixture.token()) });
    expect(first.status).toBe(201);
    fill(join(mount, 'filler'));

    const name = uniqueName('full');
    const refused = await t.request('POST', VAULTS, { key, body: createBody(name, t.fixture.token()) });
    expect(refused.status, refused.text).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.body.detail).toMatch(/storage is full/);
    const renamed = await t.request('PATCH', `${VAULTS}/${first.body.id}`, { key, body: { name: uniqueName() } });
    expect(renamed.status, renamed.text).toBe(503);

    const list = await t.request('GET', `${VAULTS}?limit=1000`, { key });
    expect(list.status).toBe(200);
    expect(list.body.vaults.map((v: { id: string }) => v.id)).toEqual([first.body.id]);
    expect((await t.request('GET', '/healthz')).status).toBe(200);

    // The real cause, once for both refused writes (the rate-limit sync may add its own warning).
    const logged = t.logs.filter((line) => line.includes('SQLITE_FULL') && line.includes('storage full'));
    expect(logged.length).toBe(1);
    expect(t.logs.some((line) => line.includes('cannot rollback'))).toBe(false);
    expect(t.logs.some((line) => line.includes('unhandled error'))).toBe(false);

    rmSync(join(mount, 'filler'));
    const retried = await t.request('POST', VAULTS, { key, body: createBody(name, t.fixture.token()) });
    expect(retried.status, retried.text).toBe(201);

    // Nothing half-written: each vault once, an audit event per vault, and an intact file.
    const raw = new Database(t.databasePath as string, { readonly: true });
    try {
      expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(raw.prepare('SELECT count(*) AS n FROM vaults').get()).toEqual({ n: 2 });
      const events = raw.prepare("SELECT vault_id FROM audit_events WHERE action = 'vault.create'").all();
      expect(events).toHaveLength(2);
    } finally {
      raw.close();
    }
  }, 30_000);
});
