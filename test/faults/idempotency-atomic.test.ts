// Item 3: the idempotency record and every audit event commit in the same transaction as the change
// they describe. Their write is forced to fail (PostgreSQL: another session holds the record's row lock
// past lock_timeout; both dialects: a trigger that raises): the answer is an error, nothing was changed,
// and a retry with the same Idempotency-Key gets the vault (never 409 "already exists").
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { describeDialects, startTestServer, type TestResponse, type TestServer } from '../helpers/server.js';
import { createBody, createVault, sleep, uniqueName, VAULTS } from '../helpers/vaults.js';

/** Retries as a client would: while the answer is 409 in progress (Retry-After: 1), wait and send again. */
async function retryWhileInProgress(send: () => Promise<TestResponse>, withinMs = 10_000): Promise<TestResponse> {
  const end = Date.now() + withinMs;
  for (;;) {
    const answer = await send();
    if (answer.status !== 409 || !/in progress/.test(answer.body?.detail ?? '') || Date.now() > end) return answer;
    await sleep(Number(answer.headers.get('retry-after') ?? 1) * 1000);
  }
}

describeDialects('idempotency record and audit events commit with their change (%s)', (dialect) => {
  let t: TestServer;
  let key: string;
  let pgdb: TestPostgres | undefined;
  const exec = (text: string) => sql.raw(text).execute(t.server.database.db);

  beforeAll(async () => {
    if (dialect === 'postgres') pgdb = await createTestPostgres();
    // lock_timeout: a write waiting for a row lock fails (55P03) instead of waiting for the statement deadline.
    const database = pgdb && `${pgdb.url}?options=${encodeURIComponent('-c lock_timeout=300')}`;
    t = await startTestServer({ dialect, database });
    ({ key } = await t.newOrg());
  });
  afterAll(async () => {
    await t?.close();
    await pgdb?.drop();
  });

  async function failWrites(table: string, when: string): Promise<() => Promise<void>> {
    if (dialect === 'sqlite') {
      for (const op of ['INSERT', 'UPDATE']) {
        await exec(
          `CREATE TRIGGER fail_${table}_${op} BEFORE ${op} ON ${table} WHEN ${when} BEGIN SELECT RAISE(ABORT, 'forced failure'); END`,
        );
      }
      return async () => {
        for (const op of ['INSERT', 'UPDATE']) await exec(`DROP TRIGGER fail_${table}_${op}`);
      };
    }
    await exec(
      `CREATE FUNCTION fail_${table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF ${when} THEN RAISE EXCEPTION 'forced failure' USING ERRCODE = '57P03'; END IF; RETURN NEW; END $$`,
    );
    await exec(`CREATE TRIGGER fail_${table} BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION fail_${table}()`);
    return async () => {
      await exec(`DROP TRIGGER fail_${table} ON ${table}`);
      await exec(`DROP FUNCTION fail_${table}()`);
    };
  }

  async function expectNothingChanged(answer: TestResponse, name: string): Promise<void> {
    expect(answer.status, answer.text).toBeGreaterThanOrEqual(500);
    const list = await t.request('GET', `${VAULTS}?limit=1000`, { key });
    expect(list.body.vaults.filter((v: { name: string }) => v.name === name)).toEqual([]);
  }

  it('create: the idempotency write fails (trigger) → nothing stored; the retry with the same key gets the vault, then replays it', async () => {
    const name = uniqueName('idem');
    const body = createBody(name, t.fixture.token());
    const headers = { 'idempotency-key': `k-${name}` };
    const restore = await failWrites('idempotency_keys', "NEW.state = 'done'");
    const failed = await t.request('POST', VAULTS, { key, body, headers });
    await restore();
    await expectNothingChanged(failed, name);
    const created = await retryWhileInProgress(() => t.request('POST', VAULTS, { key, body, headers }));
    expect(created.status, created.text).toBe(201);
    const replayed = await t.request('POST', VAULTS, { key, body, headers });
    expect(replayed.status).toBe(201);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(replayed.body).toEqual(created.body);
  });

  // A row lock is PostgreSQL's; on SQLite the whole file locks, which sqlite-lock.test.ts covers.
  if (dialect === 'postgres')
    it('create: another session holds the idempotency record locked → 503, nothing stored; the retry gets the vault', async () => {
      const name = uniqueName('locked');
      const body = createBody(name, t.fixture.token());
      const idem = `k-${name}`;
      t.fixture.setFaults({ latency_ms: 600 }); // the request waits for 1Password after claiming the key
      const answer = t.request('POST', VAULTS, { key, body, headers: { 'idempotency-key': idem } });
      const locker = new pg.Client({ connectionString: pgdb?.url });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        for (let i = 0; ; i++) {
          const { rowCount } = await locker.query('SELECT 1 FROM idempotency_keys WHERE key = $1 FOR UPDATE', [idem]);
          if (rowCount) break;
          if (i > 200) throw new Error('the claim never appeared');
          await sleep(10);
        }
        const failed = await answer;
        t.fixture.setFaults({});
        expect(failed.status, failed.text).toBe(503);
        expect(failed.headers.get('retry-after')).toMatch(/^\d+$/);
        await expectNothingChanged(failed, name);
      } finally {
        await locker.query('ROLLBACK');
        await locker.end();
        t.fixture.setFaults({});
      }
      const created = await retryWhileInProgress(() => t.request('POST', VAULTS, { key, body, headers: { 'idempotency-key': idem } }));
      expect(created.status, created.text).toBe(201);
      expect(created.body.name).toBe(name);
    });

  it('rotate: the idempotency write fails → the token is not changed; the retry with the same key rotates', async () => {
    const { vault } = await createVault(t, key);
    const token = t.fixture.token();
    const headers = { 'idempotency-key': `r-${vault.id}` };
    const before = await t.server.database.db
      .selectFrom('vaults')
      .select(['token_version'])
      .where('id', '=', vault.id)
      .executeTakeFirstOrThrow();
    const restore = await failWrites('idempotency_keys', "NEW.state = 'done'");
    const failed = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token }, headers });
    await restore();
    expect(failed.status, failed.text).toBeGreaterThanOrEqual(500);
    const after = await t.server.database.db
      .selectFrom('vaults')
      .select(['token_version'])
      .where('id', '=', vault.id)
      .executeTakeFirstOrThrow();
    expect(Number(after.token_version)).toBe(Number(before.token_version));
    const rotated = await retryWhileInProgress(() => t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token }, headers }));
    expect(rotated.status, rotated.text).toBe(204);
  });

  it('grant mint: its audit event cannot be written → no grant exists; minting again works', async () => {
    const { vault } = await createVault(t, key);
    const restore = await failWrites('audit_events', "NEW.action = 'grant.create'");
    const failed = await t.request('POST', `${VAULTS}/${vault.id}/grants`, { key, body: { expires_in: 600 } });
    await restore();
    expect(failed.status, failed.text).toBeGreaterThanOrEqual(500);
    const grants = await t.request('GET', `${VAULTS}/${vault.id}/grants`, { key });
    expect(grants.body.total).toBe(0);
    expect((await t.request('POST', `${VAULTS}/${vault.id}/grants`, { key, body: { expires_in: 600 } })).status).toBe(201);
  });
});
