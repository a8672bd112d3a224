// The per-org vault counter behind the list's `total` (migration 0004): kept by triggers, so it must
// equal count(*) after a backfill, after every kind of write (including an org's cascade), and under
// concurrent creates and deletes in one org. And the deep-page query, which must page exactly like
// the first-page query it takes over from.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, Migrator } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { type Database, migrate, openDatabase } from '../src/db/database.js';
import { migrationProvider } from '../src/db/migrations/index.js';
import type { Tables } from '../src/db/schema.js';
import { createVaultRepo, DEEP_PAGE_OFFSET } from '../src/modules/vaults/vaults.repo.js';
import { createTestPostgres, type TestPostgres } from './helpers/postgres.js';
import { describeDialects } from './helpers/server.js';

describeDialects('vault counts (%s)', (dialect) => {
  let database: Database;
  let cleanup: () => Promise<void>;

  async function open(): Promise<Kysely<Tables>> {
    if (dialect === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'sesame-counts-'));
      database = openDatabase({ dialect, path: join(dir, 'counts.db') });
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    } else {
      const pg: TestPostgres = await createTestPostgres();
      database = openDatabase({ dialect, url: pg.url });
      cleanup = pg.drop;
    }
    return database.db;
  }

  afterEach(async () => {
    await database?.close();
    await cleanup?.();
  });

  async function newOrg(db: Kysely<Tables>): Promise<string> {
    const id = randomUUID();
    await db.insertInto('organizations').values({ id, name: id, created_at: new Date().toISOString() }).execute();
    return id;
  }

  const vaultRow = (orgId: string, name: string) => {
    const at = new Date().toISOString();
    return {
      id: randomUUID(),
      org_id: orgId,
      name,
      provider: 'onepassword',
      op_vault_id: 'x',
      token_key_id: 'k',
      token_wrapped_key: 'w',
      token_ciphertext: 'c',
      created_at: at,
      updated_at: at,
    };
  };

  /** Every org's counter next to its real count: they must agree, orgs without vaults included. */
  async function counters(db: Kysely<Tables>, orgIds: string[]) {
    const repo = createVaultRepo(db);
    const result = [];
    for (const orgId of orgIds) {
      const real = await db
        .selectFrom('vaults')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('org_id', '=', orgId)
        .executeTakeFirstOrThrow();
      result.push({ counted: (await repo.list(orgId, 1, 0)).total, real: Number(real.n) });
    }
    return result;
  }

  it('backfills the vaults that existed before the migration, then follows inserts and deletes', async () => {
    const db = await open();
    const migrator = new Migrator({ db, provider: migrationProvider });
    const before = await migrator.migrateTo('0003-rate-limits');
    expect(before.error).toBeUndefined();
    const [a, b, empty] = [await newOrg(db), await newOrg(db), await newOrg(db)];
    for (let i = 0; i < 37; i++)
      await db
        .insertInto('vaults')
        .values(vaultRow(a, `a${i}`))
        .execute();
    for (let i = 0; i < 5; i++)
      await db
        .insertInto('vaults')
        .values(vaultRow(b, `b${i}`))
        .execute();

    expect((await migrator.migrateTo('0004-vault-counts')).error).toBeUndefined();
    expect(await counters(db, [a, b, empty])).toEqual([
      { counted: 37, real: 37 },
      { counted: 5, real: 5 },
      { counted: 0, real: 0 },
    ]);

    const repo = createVaultRepo(db);
    const added = vaultRow(b, 'b-new');
    await repo.insert(added);
    await repo.delete(a, (await repo.list(a, 1, 0)).rows[0]?.id ?? '');
    await repo.delete(a, randomUUID()); // nothing deleted, nothing counted
    await expect(repo.insert(vaultRow(b, 'b0'))).rejects.toThrow(/already exists/); // a refused insert counts nothing
    expect(await counters(db, [a, b])).toEqual([
      { counted: 36, real: 36 },
      { counted: 6, real: 6 },
    ]);

    // Deleting an org cascades to its vaults and its counter rows.
    await db.deleteFrom('organizations').where('id', '=', a).execute();
    const left = await db.selectFrom('vault_counts').select('org_id').where('org_id', '=', a).execute();
    expect(left).toEqual([]);
    expect(await counters(db, [a, b])).toEqual([
      { counted: 0, real: 0 },
      { counted: 6, real: 6 },
    ]);
  });

  it('stays exact under concurrent creates and deletes in one org', async () => {
    const db = await open();
    await migrate(database);
    const repo = createVaultRepo(db);
    const org = await newOrg(db);
    const first = Array.from({ length: 40 }, (_, i) => vaultRow(org, `v${i}`));
    await Promise.all(first.map((row) => repo.insert(row)));
    // Half of them deleted while 40 more are created, and 10 creates race for one name.
    await Promise.all([
      ...first.slice(0, 20).map((row) => repo.delete(org, row.id)),
      ...Array.from({ length: 40 }, (_, i) => repo.insert(vaultRow(org, `w${i}`))),
      ...Array.from({ length: 10 }, () => repo.insert(vaultRow(org, 'contested')).catch(() => 'taken')),
    ]);
    expect(await counters(db, [org])).toEqual([{ counted: 61, real: 61 }]);
  });

  it(`pages past offset ${DEEP_PAGE_OFFSET} exactly as the first pages do, ties in created_at included`, async () => {
    const db = await open();
    await migrate(database);
    const repo = createVaultRepo(db);
    const org = await newOrg(db);
    const other = await newOrg(db);
    const n = DEEP_PAGE_OFFSET + 120;
    // Three vaults per timestamp, so the order depends on the id tie-break; another org's rows interleave.
    const rows = Array.from({ length: n }, (_, i) => ({
      ...vaultRow(org, `v${i}`),
      created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, Math.floor(i / 3))).toISOString(),
    }));
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < n; i += 500)
        await trx
          .insertInto('vaults')
          .values(rows.slice(i, i + 500))
          .execute();
      await trx
        .insertInto('vaults')
        .values(Array.from({ length: 50 }, (_, i) => vaultRow(other, `o${i}`)))
        .execute();
    });
    const expected = rows
      .map((r) => r.id)
      .sort((a, b) => {
        const ra = rows.find((r) => r.id === a);
        const rb = rows.find((r) => r.id === b);
        return (ra?.created_at ?? '').localeCompare(rb?.created_at ?? '') || (a < b ? -1 : a > b ? 1 : 0);
      });
    // Pages straddling the switch, each read by the query for its own offset.
    for (const offset of [DEEP_PAGE_OFFSET - 30, DEEP_PAGE_OFFSET, DEEP_PAGE_OFFSET + 100]) {
      const page = await repo.list(org, 50, offset);
      expect(page.total).toBe(n);
      expect(page.rows.map((r) => r.id)).toEqual(expected.slice(offset, offset + 50));
      expect(new Set(page.rows.map((r) => r.org_id))).toEqual(new Set([org]));
    }
    expect((await repo.list(org, 50, n)).rows).toEqual([]);
  });
});
