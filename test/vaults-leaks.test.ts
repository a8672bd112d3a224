// Canary test for the write-only token (docs/api.md, "Concepts" and "What is stored"): unique
// tokens are sent through every path that handles one, successful or not, and then searched for in
// every response body and header, every captured log line (debug level) and the database itself.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encodeToken, fakeTokenPayload } from '../src/providers/onepassword/fake-token.js';
import { findCanaries, responseText, sqliteFilesText, tokenForms } from './helpers/canary.js';
import { OP_VAULT, OTHER_OP_VAULT } from './helpers/fixture.js';
import { describeDialects, startTestServer, type TestResponse, type TestServer } from './helpers/server.js';
import { createBody, MISSING_ID, VAULTS } from './helpers/vaults.js';

/** Every table of the PostgreSQL database, as text. */
async function dumpPostgres(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    const parts: string[] = [];
    for (const { table_name } of tables.rows) {
      const rows = await client.query(`SELECT * FROM "${table_name}"`);
      parts.push(`${table_name}: ${JSON.stringify(rows.rows)}`);
    }
    return parts.join('\n');
  } finally {
    await client.end();
  }
}

async function vaultsTablePostgres(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return JSON.stringify((await client.query('SELECT * FROM vaults')).rows);
  } finally {
    await client.end();
  }
}

describeDialects('token leaks (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ dialect, env: { SESAME_PROVIDER_CALL_TIMEOUT_MS: '300' } });
  });
  afterAll(() => t?.close());

  async function storedText(): Promise<string> {
    if (dialect === 'sqlite') {
      expect(t.databasePath).toBeTruthy();
      return sqliteFilesText(t.databasePath as string);
    }
    expect(t.databaseUrl).toBeTruthy();
    return dumpPostgres(t.databaseUrl as string);
  }

  it('never shows a token in a response, a log line or the database', async () => {
    const seed = `canary-${dialect}-${Date.now()}-${Math.random()}`;
    const main = t.fixture.token([OP_VAULT, OTHER_OP_VAULT], 'active', `${seed}-main`);
    const rotated = t.fixture.token([OP_VAULT, OTHER_OP_VAULT], 'active', `${seed}-rotated`);
    const revoked = t.fixture.token([OP_VAULT], 'revoked', `${seed}-revoked`);
    const noAccess = t.fixture.token([OTHER_OP_VAULT], 'active', `${seed}-noaccess`);
    const unknown = encodeToken(fakeTokenPayload({ seed: `${seed}-unknown` }));
    // Shaped like a token but refused locally: a required field is missing.
    const malformed = encodeToken(fakeTokenPayload({ seed: `${seed}-malformed`, overrides: { secretKey: undefined } }));
    const canaries = [main, rotated, revoked, noAccess, unknown, malformed];
    for (const c of canaries) expect(c.startsWith('ops_')).toBe(true);

    const { key } = await t.newOrg();
    const responses: TestResponse[] = [];
    const send = async (method: string, path: string, options: Parameters<TestServer['request']>[2] = {}) => {
      const res = await t.request(method, path, { key, ...options });
      responses.push(res);
      return res;
    };

    // Successful create (with an idempotency key, and its replay).
    const created = await send('POST', VAULTS, { body: createBody('canary', main), headers: { 'idempotency-key': 'canary-create' } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await send('POST', VAULTS, { body: createBody('canary', main), headers: { 'idempotency-key': 'canary-create' } })).status).toBe(
      201,
    );
    // Same key, other body.
    expect(
      (await send('POST', VAULTS, { body: createBody('canary-2', main), headers: { 'idempotency-key': 'canary-create' } })).status,
    ).toBe(422);

    // Malformed requests that carry a token.
    expect((await send('POST', VAULTS, { body: createBody('', main) })).status).toBe(422);
    expect((await send('POST', VAULTS, { body: { token: main } })).status).toBe(422);
    expect(
      (
        await send('POST', VAULTS, {
          body: { name: 'x', provider_config: { op_vault_id: 'a b', token: main }, token: main, extra: { token: main } },
        })
      ).status,
    ).toBe(422);
    expect((await send('POST', VAULTS, { body: createBody('x', main, 'a b') })).status).toBe(422);
    expect((await send('POST', VAULTS, { body: { name: 'x', provider_config: 'nope', token: main } })).status).toBe(422);
    expect((await send('POST', VAULTS, { body: [main] })).status).toBe(422);
    expect((await send('POST', VAULTS, { body: main })).status).toBe(422);
    expect((await send('PUT', `${VAULTS}/${id}/token`, { body: main })).status).toBe(422);
    expect((await send('PUT', `${VAULTS}/${id}/token`, { body: [{ value: main }] })).status).toBe(422);
    expect((await send('POST', VAULTS, { body: { name: 'x', provider_config: { op_vault_id: OP_VAULT }, token: [main] } })).status).toBe(
      422,
    );
    expect(
      (await send('POST', VAULTS, { body: { name: 'x', provider_config: { op_vault_id: OP_VAULT }, token: { value: main } } })).status,
    ).toBe(422);
    expect(
      (await send('POST', VAULTS, { rawBody: `{"name": "x", "token": "${main}", `, headers: { 'content-type': 'application/json' } }))
        .status,
    ).toBe(422);
    expect((await send('POST', VAULTS, { rawBody: `{"token": "${main}"}}`, headers: { 'content-type': 'application/json' } })).status).toBe(
      422,
    );
    expect(
      (await send('POST', VAULTS, { rawBody: JSON.stringify(createBody('x', main)), headers: { 'content-type': 'text/plain' } })).status,
    ).toBe(415);
    expect((await send('POST', VAULTS, { body: { ...createBody('x', main), pad: 'p'.repeat(70 * 1024) } })).status).toBe(413);
    expect((await send('POST', VAULTS, { body: createBody('canary', main) })).status).toBe(409);
    expect((await send('POST', VAULTS, { body: createBody('x', malformed) })).status).toBe(422);
    expect((await send('POST', VAULTS, { body: createBody('x', main), headers: { 'idempotency-key': 'k'.repeat(300) } })).status).toBe(422);

    // Refused tokens.
    expect((await send('POST', VAULTS, { body: createBody('x', revoked) })).status).toBe(422);
    expect((await send('POST', VAULTS, { body: createBody('x', unknown) })).status).toBe(422);
    expect((await send('POST', VAULTS, { body: createBody('x', noAccess) })).status).toBe(422);

    // PATCH with a token key, and re-checks of the stored token.
    expect((await send('PATCH', `${VAULTS}/${id}`, { body: { token: main } })).status).toBe(422);
    expect((await send('PATCH', `${VAULTS}/${id}`, { body: { name: null, token: rotated } })).status).toBe(422);
    expect((await send('PATCH', `${VAULTS}/${id}`, { body: { provider_config: { op_vault_id: OTHER_OP_VAULT } } })).status).toBe(200);
    expect((await send('PATCH', `${VAULTS}/${id}`, { body: { provider_config: { op_vault_id: 'nosuchvault' } } })).status).toBe(422);
    expect((await send('PATCH', `${VAULTS}/${id}`, { body: { provider_config: { op_vault_id: OP_VAULT } } })).status).toBe(200);

    // Rotations: missing vault, refused, malformed, success and back.
    expect((await send('PUT', `${VAULTS}/${MISSING_ID}/token`, { body: { token: rotated } })).status).toBe(404);
    expect((await send('PUT', `${VAULTS}/not-a-uuid/token`, { body: { token: rotated } })).status).toBe(422);
    expect((await send('PUT', `${VAULTS}/${id}/token`, { body: { token: revoked } })).status).toBe(422);
    expect((await send('PUT', `${VAULTS}/${id}/token`, { body: { token: noAccess } })).status).toBe(422);
    expect((await send('PUT', `${VAULTS}/${id}/token`, { body: { token: malformed } })).status).toBe(422);
    expect((await send('PUT', `${VAULTS}/${id}/token`, { body: { token: 12345, extra: rotated } })).status).toBe(422);
    expect(
      (await send('PUT', `${VAULTS}/${id}/token`, { body: { token: rotated }, headers: { 'idempotency-key': 'canary-rotate' } })).status,
    ).toBe(204);
    expect(
      (await send('PUT', `${VAULTS}/${id}/token`, { body: { token: rotated }, headers: { 'idempotency-key': 'canary-rotate' } })).status,
    ).toBe(204);
    expect((await send('PUT', `${VAULTS}/${id}/token`, { body: { token: main } })).status).toBe(204);

    // Provider trouble while a token is being checked (a rate limit comes last, below: after one, Sesame
    // holds that token back for a minute).
    t.fixture.setFaults({ unavailable: true });
    expect((await send('POST', VAULTS, { body: createBody('x', main) })).status).toBe(503);
    expect((await send('PUT', `${VAULTS}/${id}/token`, { body: { token: rotated } })).status).toBe(503);
    expect((await send('GET', `${VAULTS}/${id}/health`)).body.ok).toBe(false);
    t.fixture.setFaults({ latency_ms: 2000 });
    expect((await send('PUT', `${VAULTS}/${id}/token`, { body: { token: rotated } })).status).toBe(503);
    expect((await send('GET', `${VAULTS}/${id}/health`)).body).toEqual({ ok: false, error: '1Password: timed out' });
    t.fixture.setFaults({});

    // Reads afterwards, healthy and not.
    expect((await send('GET', `${VAULTS}/${id}/health`)).body).toEqual({ ok: true, error: null });
    expect((await send('GET', `${VAULTS}/${id}`)).status).toBe(200);
    expect((await send('GET', VAULTS)).status).toBe(200);
    expect((await send('GET', '/openapi.json')).status).toBe(200);
    t.fixture.setState(main, 'revoked');
    expect((await send('GET', `${VAULTS}/${id}/health`)).body.ok).toBe(false);
    t.fixture.setState(main, 'active');

    // A rate limit, then the back-off after it: refused without asking 1Password.
    t.fixture.setFaults({ rate_limit_after: 0 });
    expect((await send('POST', VAULTS, { body: createBody('x', main) })).status).toBe(503);
    t.fixture.setFaults({});
    expect((await send('GET', `${VAULTS}/${id}/health`)).body).toEqual({ ok: false, error: '1Password: rate limited' });

    const forms = canaries.flatMap(tokenForms);
    expect(forms.length).toBeGreaterThan(canaries.length * 3);
    // Self-check: the search finds the canaries where they are meant to be (the fixture file).
    expect(findCanaries(readFileSync(t.fixture.path, 'utf8'), forms).length).toBeGreaterThanOrEqual(4);

    // Responses: bodies and headers.
    for (const res of responses) expect(findCanaries(responseText(res), forms), responseText(res).slice(0, 300)).toEqual([]);

    // Log lines (debug level): there are plenty, and none holds a token.
    expect(t.logs.length).toBeGreaterThan(responses.length);
    for (const line of t.logs) expect(findCanaries(line, forms), line.slice(0, 300)).toEqual([]);

    // The database: what is stored is encrypted.
    if (dialect === 'postgres') expect(findCanaries(await vaultsTablePostgres(t.databaseUrl as string), forms)).toEqual([]);
    const stored = await storedText();
    expect(stored).toContain(id); // the search does see the data
    expect(findCanaries(stored, forms)).toEqual([]);

    // And after deletion (freed pages, WAL) still nothing.
    expect((await send('DELETE', `${VAULTS}/${id}`)).status).toBe(204);
    expect(findCanaries(await storedText(), forms)).toEqual([]);
    for (const line of t.logs) expect(findCanaries(line, forms), line.slice(0, 300)).toEqual([]);
  });

  it('never shows an API key in a log line or the database', async () => {
    const { key } = await t.newOrg();
    const revokedOrg = await t.newOrg();
    await t.revokeKey(revokedOrg.keyId);
    const token = t.fixture.token();
    await t.request('POST', VAULTS, { key, body: createBody('k', token) });
    await t.request('GET', VAULTS, { key });
    await t.request('GET', VAULTS, { key: revokedOrg.key });
    await t.request('GET', VAULTS, { headers: { authorization: `Basic ${key}` } });
    await t.request('GET', VAULTS, { headers: { 'x-api-key': key, cookie: `session=${key}` } });
    const keys = [key, revokedOrg.key, key.slice('sesame_ak_'.length), revokedOrg.key.slice('sesame_ak_'.length)];
    for (const line of t.logs) expect(findCanaries(line, keys), line.slice(0, 300)).toEqual([]);
    expect(findCanaries(await storedText(), keys)).toEqual([]);
  });
});
