// List latency with 10,000 vaults in one org, by offset, and the query plans, on SQLite and PostgreSQL.
// usage: node bench/list-scaling.mjs   (needs dist/ and PostgreSQL on 127.0.0.1:5432)
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompiledQuery, Migrator, sql } from 'kysely';
import pg from 'pg';
import { migrate, openDatabase } from '../dist/db/database.js';
import { migrationProvider } from '../dist/db/migrations/index.js';
import { countQuery, createVaultRepo, DEEP_PAGE_OFFSET, deepPageQuery, pageQuery } from '../dist/modules/vaults/vaults.repo.js';

const ROWS = 10_000;
// Many tenants, as in production: the org holds 10,000 of 100,000 rows, so its filter is selective.
const OTHER_ORGS = 300;
const OTHER_ROWS = 90_000;
const ADMIN = process.env.SESAME_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const work = mkdtempSync(join(tmpdir(), 'sesame-list-'));

async function admin(text) {
  const client = new pg.Client({ connectionString: ADMIN });
  await client.connect();
  await client.query(text).finally(() => client.end());
}

async function measure(label, config) {
  const database = openDatabase(config);
  const { db } = database;
  // Seeded before migration 0004, whose backfill of the per-org counts is timed below.
  const before = await new Migrator({ db, provider: migrationProvider }).migrateTo('0003-rate-limits');
  if (before.error) throw before.error;
  const org = randomUUID();
  const others = Array.from({ length: OTHER_ORGS }, () => randomUUID());
  for (const id of [org, ...others])
    await db.insertInto('organizations').values({ id, name: id, created_at: new Date().toISOString() }).execute();
  const start = Date.UTC(2026, 0, 1);
  // Interleaved in time, so the org's rows are spread over the whole table as they would be.
  const total = ROWS + OTHER_ROWS;
  for (let i = 0; i < total; i += 500) {
    const rows = [];
    for (let j = i; j < i + 500; j++) {
      const at = new Date(start + j * 1000).toISOString();
      const orgId = j % (total / ROWS) === 0 ? org : others[j % OTHER_ORGS];
      rows.push({
        id: randomUUID(),
        org_id: orgId,
        name: `v-${j}`,
        provider: 'onepassword',
        op_vault_id: 'x',
        token_key_id: 'k1',
        token_wrapped_key: 'w',
        token_ciphertext: 'c',
        created_at: at,
        updated_at: at,
      });
    }
    await db.insertInto('vaults').values(rows).execute();
  }
  const migrating = performance.now();
  await migrate(database);
  const backfillMs = performance.now() - migrating;
  await sql.raw(label === 'postgres' ? 'VACUUM ANALYZE vaults' : 'ANALYZE').execute(db);
  const repo = createVaultRepo(db);
  const results = [];
  for (const offset of [0, 1000, 5000, 9950]) {
    for (let i = 0; i < 50; i++) await repo.list(org, 50, offset); // warm
    const n = 300;
    const t = performance.now();
    for (let i = 0; i < n; i++) await repo.list(org, 50, offset);
    results.push(
      `offset ${String(offset).padStart(4)}: ${(((performance.now() - t) * 1000) / n).toFixed(0)} µs per list(50), the count included`,
    );
  }
  // The plans of the repository's own statements: a first page, a deep page, the total.
  const explain = label === 'sqlite' ? 'EXPLAIN QUERY PLAN ' : 'EXPLAIN (ANALYZE, COSTS OFF) ';
  const plans = [];
  for (const [title, query, offset] of [
    ['page, offset 0', pageQuery, 0],
    [`page, offset 9950 (from ${DEEP_PAGE_OFFSET} on)`, deepPageQuery, 9950],
    ['total', countQuery, 0],
  ]) {
    const values = { orgId: org, limit: 50, offset };
    const compiled = query(db, (name) => values[name]).compile();
    const { rows } = await db.executeQuery(CompiledQuery.raw(explain + compiled.sql, [...compiled.parameters]));
    plans.push(`  plan (${title}):\n    ${rows.map((r) => r.detail ?? r['QUERY PLAN']).join('\n    ')}`);
  }
  console.log(
    `\n## ${label}: ${ROWS} vaults in the org (of ${ROWS + OTHER_ROWS} in ${OTHER_ORGS + 1} orgs)\nmigration 0004 (counting ${total} vaults): ${backfillMs.toFixed(0)} ms\n${results.join('\n')}\n${plans.join('\n')}`,
  );
  await database.close();
}

await measure('sqlite', { dialect: 'sqlite', path: join(work, 'list.db') });
const name = `sesame_list_${randomBytes(4).toString('hex')}`;
await admin(`CREATE DATABASE ${name}`);
const url = new URL(ADMIN);
url.pathname = `/${name}`;
try {
  await measure('postgres', { dialect: 'postgres', url: url.toString() });
} finally {
  await admin(`DROP DATABASE ${name} WITH (FORCE)`);
  rmSync(work, { recursive: true, force: true });
}
