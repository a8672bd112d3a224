// The /api/v2/vaults contract (spec/vaults-api.md), endpoint by endpoint, through the real HTTP server
// on both databases, with the 1Password fixture backend standing in for 1Password.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OP_VAULT, OTHER_OP_VAULT } from './helpers/fixture.js';
import { DIALECTS, startTestServer, type TestResponse, type TestServer } from './helpers/server.js';
import {
  createBody,
  createVault,
  health,
  ISO_UTC,
  type Issue,
  listTotal,
  MISSING_ID,
  sleep,
  TOKEN_MASK,
  UUID_LOWER,
  VAULTS,
  type VaultObject,
} from './helpers/vaults.js';

// Short provider deadline so "latency beyond the deadline" costs about a second per test.
const DEADLINE_MS = 1000;
const SLACK_MS = 1500;

const UNAVAILABLE_DETAIL = /^1Password is unavailable: [^.]+\. Nothing was changed; retry later\.$/;

/** The 422 list keyed by loc, so a test can assert every entry without depending on their order. */
function issuesByLoc(response: TestResponse): Record<string, Issue> {
  expect(response.status).toBe(422);
  expect(Array.isArray(response.body?.detail)).toBe(true);
  const out: Record<string, Issue> = {};
  for (const issue of response.body.detail) out[JSON.stringify(issue.loc)] = issue;
  expect(Object.keys(out)).toHaveLength(response.body.detail.length); // one entry per loc
  return out;
}

function expectVaultShape(vault: VaultObject): void {
  expect(Object.keys(vault).sort()).toEqual(['created_at', 'id', 'name', 'org_id', 'provider_config', 'updated_at']);
  expect(Object.keys(vault.provider_config).sort()).toEqual(['op_vault_id', 'provider']);
  expect(vault.id).toMatch(UUID_LOWER);
  expect(vault.org_id).toMatch(UUID_LOWER);
  expect(vault.created_at).toMatch(ISO_UTC);
  expect(vault.updated_at).toMatch(ISO_UTC);
}

function expect503(response: TestResponse): void {
  expect(response.status).toBe(503);
  expect(Object.keys(response.body)).toEqual(['detail']);
  expect(response.body.detail).toMatch(UNAVAILABLE_DETAIL);
  const retryAfter = response.headers.get('retry-after');
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThan(0);
}

describe.each(DIALECTS)('vaults contract (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ dialect, env: { SESAME_PROVIDER_CALL_TIMEOUT_MS: String(DEADLINE_MS) } });
  });
  afterAll(() => t?.close());
  // Faults are per server: every test starts with a healthy provider.
  afterEach(() => t.fixture.setFaults({}));

  describe('POST /api/v2/vaults (create)', () => {
    it('answers 201 with exactly the six fields and a Location header', async () => {
      const { key, orgId } = await t.newOrg();
      const token = t.fixture.token();
      const before = Date.now();
      const res = await t.request('POST', VAULTS, { key, body: createBody('prod-1password', token) });
      expect(res.status).toBe(201);
      expectVaultShape(res.body);
      expect(res.body).toMatchObject({
        org_id: orgId,
        name: 'prod-1password',
        provider_config: { provider: 'onepassword', op_vault_id: OP_VAULT },
      });
      expect(res.body.created_at).toBe(res.body.updated_at);
      expect(Date.parse(res.body.created_at)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(res.body.created_at)).toBeLessThanOrEqual(Date.now() + 1000);
      expect(res.headers.get('location')).toBe(`${VAULTS}/${res.body.id}`);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.text).not.toContain(token);
      const got = await t.request('GET', res.headers.get('location') as string, { key });
      expect(got.status).toBe(200);
      expect(got.body).toEqual(res.body);
    });

    it('accepts an explicit provider "onepassword" and ignores unknown top-level keys', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token();
      const res = await t.request('POST', VAULTS, {
        key,
        body: {
          name: 'x',
          provider_config: { provider: 'onepassword', op_vault_id: OP_VAULT },
          token,
          color: 'blue',
          id: MISSING_ID,
          org_id: MISSING_ID,
        },
      });
      expect(res.status).toBe(201);
      expectVaultShape(res.body);
      expect(res.body.provider_config).toEqual({ provider: 'onepassword', op_vault_id: OP_VAULT });
      expect(res.body.id).not.toBe(MISSING_ID);
      expect(res.body.org_id).not.toBe(MISSING_ID);
    });

    it('accepts a 255-character name', async () => {
      const { key } = await t.newOrg();
      const name = 'n'.repeat(255);
      const res = await t.request('POST', VAULTS, { key, body: createBody(name, t.fixture.token()) });
      expect(res.status).toBe(201);
      expect(res.body.name).toBe(name);
    });

    it('lists every missing field', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('POST', VAULTS, { key, body: {} });
      expect(res.status).toBe(422);
      expect(res.body).toEqual({
        detail: [
          { type: 'missing', loc: ['body', 'name'], msg: 'Field required', input: {} },
          { type: 'missing', loc: ['body', 'provider_config'], msg: 'Field required', input: {} },
          { type: 'missing', loc: ['body', 'token'], msg: 'Field required', input: {} },
        ],
      });
    });

    it('lists a missing op_vault_id with the token masked in the echoed input', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token();
      const res = await t.request('POST', VAULTS, { key, body: { name: 'x', provider_config: {}, token } });
      expect(res.body).toEqual({
        detail: [{ type: 'missing', loc: ['body', 'provider_config', 'op_vault_id'], msg: 'Field required', input: {} }],
      });
      const res2 = await t.request('POST', VAULTS, { key, body: { provider_config: { op_vault_id: OP_VAULT }, token } });
      expect(res2.body).toEqual({
        detail: [
          {
            type: 'missing',
            loc: ['body', 'name'],
            msg: 'Field required',
            input: { provider_config: { op_vault_id: OP_VAULT }, token: TOKEN_MASK },
          },
        ],
      });
      expect(res2.text).not.toContain(token);
    });

    it('rejects an empty name', async () => {
      const { key } = await t.newOrg();
      const issues = issuesByLoc(await t.request('POST', VAULTS, { key, body: createBody('', t.fixture.token()) }));
      expect(Object.keys(issues)).toEqual(['["body","name"]']);
      expect(issues['["body","name"]']).toEqual({
        type: 'string_too_short',
        loc: ['body', 'name'],
        msg: 'String should have at least 1 character',
        input: '',
        ctx: { min_length: 1 },
      });
    });

    it('rejects a name of only white space', async () => {
      const { key } = await t.newOrg();
      for (const name of [' ', '   ', '\t\n ']) {
        const issues = issuesByLoc(await t.request('POST', VAULTS, { key, body: createBody(name, t.fixture.token()) }));
        expect(Object.keys(issues)).toEqual(['["body","name"]']);
        expect(issues['["body","name"]']).toMatchObject({ type: 'value_error', loc: ['body', 'name'], input: name });
        expect(issues['["body","name"]']?.msg).toMatch(/white space/);
      }
      expect(await listTotal(t, key)).toBe(0);
    });

    it('rejects a 256-character name', async () => {
      const { key } = await t.newOrg();
      const name = 'n'.repeat(256);
      const issues = issuesByLoc(await t.request('POST', VAULTS, { key, body: createBody(name, t.fixture.token()) }));
      expect(Object.keys(issues)).toEqual(['["body","name"]']);
      expect(issues['["body","name"]']).toEqual({
        type: 'string_too_long',
        loc: ['body', 'name'],
        msg: 'String should have at most 255 characters',
        input: name,
        ctx: { max_length: 255 },
      });
    });

    it('rejects an op_vault_id with white space, empty or too long', async () => {
      const { key } = await t.newOrg();
      const loc = ['body', 'provider_config', 'op_vault_id'];
      for (const opVaultId of ['abc def', ' abc', 'abc\t', 'abc\n']) {
        const issues = issuesByLoc(await t.request('POST', VAULTS, { key, body: createBody('x', t.fixture.token(), opVaultId) }));
        expect(Object.keys(issues)).toEqual([JSON.stringify(loc)]);
        expect(issues[JSON.stringify(loc)]).toMatchObject({ type: 'value_error', loc, input: opVaultId });
        expect(issues[JSON.stringify(loc)]?.msg).toMatch(/white space/);
      }
      const empty = issuesByLoc(await t.request('POST', VAULTS, { key, body: createBody('x', t.fixture.token(), '') }));
      expect(empty[JSON.stringify(loc)]).toEqual({
        type: 'string_too_short',
        loc,
        msg: 'String should have at least 1 character',
        input: '',
        ctx: { min_length: 1 },
      });
      const long = 'v'.repeat(256);
      const tooLong = issuesByLoc(await t.request('POST', VAULTS, { key, body: createBody('x', t.fixture.token(), long) }));
      expect(tooLong[JSON.stringify(loc)]).toEqual({
        type: 'string_too_long',
        loc,
        msg: 'String should have at most 255 characters',
        input: long,
        ctx: { max_length: 255 },
      });
      expect(await listTotal(t, key)).toBe(0);
    });

    it('rejects a provider other than onepassword', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('POST', VAULTS, {
        key,
        body: { name: 'x', provider_config: { provider: 'bitwarden', op_vault_id: OP_VAULT }, token: t.fixture.token() },
      });
      expect(res.body).toEqual({
        detail: [
          {
            type: 'literal_error',
            loc: ['body', 'provider_config', 'provider'],
            msg: "Input should be 'onepassword'",
            input: 'bitwarden',
            ctx: { expected: "'onepassword'" },
          },
        ],
      });
    });

    it('lists every failure of a request that is wrong in many places, never echoing the token', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('POST', VAULTS, {
        key,
        body: { name: 7, provider_config: { provider: 'aws', op_vault_id: 'a b' }, token: 42 },
      });
      const issues = issuesByLoc(res);
      expect(Object.keys(issues).sort()).toEqual(
        ['["body","name"]', '["body","provider_config","op_vault_id"]', '["body","provider_config","provider"]', '["body","token"]'].sort(),
      );
      expect(issues['["body","name"]']).toEqual({
        type: 'string_type',
        loc: ['body', 'name'],
        msg: 'Input should be a valid string',
        input: 7,
      });
      expect(issues['["body","provider_config","provider"]']).toEqual({
        type: 'literal_error',
        loc: ['body', 'provider_config', 'provider'],
        msg: "Input should be 'onepassword'",
        input: 'aws',
        ctx: { expected: "'onepassword'" },
      });
      expect(issues['["body","provider_config","op_vault_id"]']).toMatchObject({ type: 'value_error', input: 'a b' });
      expect(issues['["body","token"]']).toEqual({
        type: 'string_type',
        loc: ['body', 'token'],
        msg: 'Input should be a valid string',
        input: TOKEN_MASK,
      });
    });

    it('answers model_attributes_type for a body that is not an object', async () => {
      const { key } = await t.newOrg();
      for (const body of [[1, 2], 'a string', 42, true]) {
        const res = await t.request('POST', VAULTS, { key, body });
        expect(res.body).toEqual({
          detail: [
            {
              type: 'model_attributes_type',
              loc: ['body'],
              msg: 'Input should be a valid dictionary or object to extract fields from',
              input: body,
            },
          ],
        });
      }
      // A token sent as the whole body is still a token: never echoed.
      const token = t.fixture.token();
      for (const [method, path] of [
        ['POST', VAULTS],
        ['PUT', `${VAULTS}/${MISSING_ID}/token`],
      ] as const) {
        const bare = await t.request(method, path, { key, body: token });
        expect(bare.body).toEqual({
          detail: [
            {
              type: 'model_attributes_type',
              loc: ['body'],
              msg: 'Input should be a valid dictionary or object to extract fields from',
              input: TOKEN_MASK,
            },
          ],
        });
      }
      const pc = await t.request('POST', VAULTS, { key, body: { name: 'x', provider_config: 'abc', token: t.fixture.token() } });
      expect(pc.body).toEqual({
        detail: [
          {
            type: 'model_attributes_type',
            loc: ['body', 'provider_config'],
            msg: 'Input should be a valid dictionary or object to extract fields from',
            input: 'abc',
          },
        ],
      });
    });

    it('answers json_invalid for a body that is not JSON', async () => {
      const { key } = await t.newOrg();
      for (const rawBody of ['{"name": "x",', '{name: 1}', 'not json', '{"a":1}}']) {
        const res = await t.request('POST', VAULTS, { key, rawBody, headers: { 'content-type': 'application/json' } });
        expect(res.status).toBe(422);
        expect(res.body.detail).toHaveLength(1);
        expect(res.body.detail[0]).toMatchObject({ type: 'json_invalid', msg: 'JSON decode error' });
        expect(res.body.detail[0].loc[0]).toBe('body');
        expect(res.body.detail[0].loc).toHaveLength(2);
        expect(typeof res.body.detail[0].loc[1]).toBe('number');
      }
    });

    it('answers missing ["body"] when there is no body', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('POST', VAULTS, { key });
      expect(res.body).toEqual({ detail: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }] });
      const empty = await t.request('POST', VAULTS, { key, rawBody: '', headers: { 'content-type': 'application/json' } });
      expect(empty.body).toEqual({ detail: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }] });
    });

    it('answers 415 {"detail"} for a content type other than JSON', async () => {
      const { key } = await t.newOrg();
      const body = JSON.stringify(createBody('x', t.fixture.token()));
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
        const res = await t.request('POST', VAULTS, { key, rawBody: body, headers: { 'content-type': contentType } });
        expect(res.status).toBe(415);
        expect(Object.keys(res.body)).toEqual(['detail']);
        expect(typeof res.body.detail).toBe('string');
      }
      expect(await listTotal(t, key)).toBe(0);
    });

    it('accepts application/json with a charset', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('POST', VAULTS, {
        key,
        rawBody: JSON.stringify(createBody('x', t.fixture.token())),
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
      expect(res.status).toBe(201);
    });

    it('answers 413 {"detail"} for a body larger than 64 KiB', async () => {
      const { key } = await t.newOrg();
      const body = { ...createBody('x', t.fixture.token()), padding: 'p'.repeat(64 * 1024) };
      const res = await t.request('POST', VAULTS, { key, body });
      expect(res.status).toBe(413);
      expect(Object.keys(res.body)).toEqual(['detail']);
      expect(typeof res.body.detail).toBe('string');
      expect(await listTotal(t, key)).toBe(0);
    });

    it('answers 413 for a chunked body larger than 64 KiB (no Content-Length)', async () => {
      const { key } = await t.newOrg();
      const chunk = new TextEncoder().encode(`{"name": "x", "pad": "${'p'.repeat(8 * 1024)}`);
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 10) controller.enqueue(chunk);
          else {
            controller.enqueue(new TextEncoder().encode('"}'));
            controller.close();
          }
        },
      });
      const res = await fetch(`${t.url}${VAULTS}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(413);
      const parsed = (await res.json()) as Record<string, unknown>;
      expect(Object.keys(parsed)).toEqual(['detail']);
      expect(await listTotal(t, key)).toBe(0);
    });

    it('answers 409 with the exact message when the name is taken', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key, { name: 'taken' });
      const res = await t.request('POST', VAULTS, { key, body: createBody('taken', t.fixture.token()) });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ detail: "A vault named 'taken' already exists in this organization" });
      expect(await listTotal(t, key)).toBe(1);
      // Names are compared exactly: another case or surrounding spaces make another name.
      expect((await t.request('POST', VAULTS, { key, body: createBody('Taken', t.fixture.token()) })).status).toBe(201);
      expect(vault.name).toBe('taken');
    });

    it('checks the name before the token: a taken name with a malformed token is 409', async () => {
      const { key } = await t.newOrg();
      await createVault(t, key, { name: 'taken' });
      const res = await t.request('POST', VAULTS, { key, body: createBody('taken', 'not-a-token') });
      expect(res.status).toBe(409);
    });

    it('refuses a malformed token locally with token_format, without calling the provider', async () => {
      const { key } = await t.newOrg();
      // Every provider call would be rate limited (503): a token_format answer proves no call was made.
      t.fixture.setFaults({ rate_limit_after: 0 });
      for (const token of [
        'not-a-token',
        'ops_',
        'ops_!!!!',
        'ops_bm90IGpzb24',
        `ops_${Buffer.from('{"a":1}').toString('base64').replace(/=+$/, '')}`,
        '',
      ]) {
        const res = await t.request('POST', VAULTS, { key, body: createBody('x', token) });
        expect(res.status, token).toBe(422);
        expect(res.body.detail).toHaveLength(1);
        expect(res.body.detail[0]).toMatchObject({ type: 'token_format', loc: ['body', 'token'], input: TOKEN_MASK });
        expect(typeof res.body.detail[0].msg).toBe('string');
        if (token.length > 4) expect(res.text).not.toContain(token);
      }
      expect(await listTotal(t, key)).toBe(0);
    });

    it.each(['revoked', 'expired'] as const)('answers 422 provider_rejected for a %s token', async (state) => {
      const { key } = await t.newOrg();
      const token = t.fixture.token([OP_VAULT], state);
      const res = await t.request('POST', VAULTS, { key, body: createBody('x', token) });
      expect(res.status).toBe(422);
      expect(res.body).toEqual({
        detail: [
          { type: 'provider_rejected', loc: ['body', 'token'], msg: '1Password rejected the service account token', input: TOKEN_MASK },
        ],
      });
      expect(await listTotal(t, key)).toBe(0);
    });

    it('answers 422 provider_rejected for a well-formed token 1Password does not know', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token();
      delete t.fixture.data.tokens[token];
      t.fixture.write();
      const res = await t.request('POST', VAULTS, { key, body: createBody('x', token) });
      expect(res.body).toEqual({
        detail: [
          { type: 'provider_rejected', loc: ['body', 'token'], msg: '1Password rejected the service account token', input: TOKEN_MASK },
        ],
      });
      expect(await listTotal(t, key)).toBe(0);
    });

    it('answers 422 at op_vault_id when the token cannot read the vault', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token([OTHER_OP_VAULT]);
      const res = await t.request('POST', VAULTS, { key, body: createBody('x', token, OP_VAULT) });
      expect(res.status).toBe(422);
      expect(res.body.detail).toHaveLength(1);
      expect(res.body.detail[0]).toMatchObject({
        type: 'provider_rejected',
        loc: ['body', 'provider_config', 'op_vault_id'],
        msg: `This service account token cannot access 1Password vault '${OP_VAULT}'`,
      });
      expect(res.text).not.toContain(token);
      // A vault that does not exist in 1Password at all is refused the same way.
      const res2 = await t.request('POST', VAULTS, { key, body: createBody('x', token, 'nosuchvault') });
      expect(res2.body.detail[0]).toMatchObject({
        type: 'provider_rejected',
        loc: ['body', 'provider_config', 'op_vault_id'],
        msg: "This service account token cannot access 1Password vault 'nosuchvault'",
      });
      expect(await listTotal(t, key)).toBe(0);
    });

    it('answers 503 + Retry-After and creates nothing when 1Password is unreachable', async () => {
      const { key } = await t.newOrg();
      await createVault(t, key);
      t.fixture.setFaults({ unavailable: true });
      const res = await t.request('POST', VAULTS, { key, body: createBody('x', t.fixture.token()) });
      expect503(res);
      expect(res.body.detail).toBe('1Password is unavailable: unreachable. Nothing was changed; retry later.');
      expect(await listTotal(t, key)).toBe(1);
      // Nothing was stored: the same name is still free once 1Password is back.
      t.fixture.setFaults({});
      expect((await t.request('POST', VAULTS, { key, body: createBody('x', t.fixture.token()) })).status).toBe(201);
    });

    it('answers 503 + Retry-After and creates nothing when 1Password rate-limits', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token();
      t.fixture.setFaults({ rate_limit_after: 0 });
      const res = await t.request('POST', VAULTS, { key, body: createBody('x', token) });
      expect503(res);
      expect(res.body.detail).toBe('1Password is unavailable: rate limited. Nothing was changed; retry later.');
      expect(await listTotal(t, key)).toBe(0);
    });

    it('answers 503 + Retry-After within the deadline and creates nothing when 1Password is too slow', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token();
      t.fixture.setFaults({ latency_ms: DEADLINE_MS + 4000 });
      const started = Date.now();
      const res = await t.request('POST', VAULTS, { key, body: createBody('x', token) });
      const elapsed = Date.now() - started;
      expect503(res);
      expect(res.body.detail).toBe('1Password is unavailable: timed out. Nothing was changed; retry later.');
      expect(elapsed).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
      expect(elapsed).toBeLessThan(DEADLINE_MS + SLACK_MS);
      expect(await listTotal(t, key)).toBe(0);
    });

    it('trims white space around the token before checking it', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token();
      const res = await t.request('POST', VAULTS, { key, body: createBody('x', `  ${token}\n`) });
      expect(res.status).toBe(201);
      expect((await health(t, key, res.body.id)).body).toEqual({ ok: true, error: null });
    });
  });

  describe('GET /api/v2/vaults (list)', () => {
    it('answers an empty list with the default limit and offset', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('GET', VAULTS, { key });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ total: 0, limit: 50, offset: 0, vaults: [] });
    });

    it('lists oldest first (created_at, then id), counts all, and pages with limit/offset', async () => {
      const { key } = await t.newOrg();
      const created: VaultObject[] = [];
      for (let i = 0; i < 7; i++) created.push((await createVault(t, key, { name: `v${i}` })).vault);
      const expected = [...created].sort((a, b) =>
        a.created_at === b.created_at ? (a.id < b.id ? -1 : 1) : a.created_at < b.created_at ? -1 : 1,
      );

      const all = await t.request('GET', VAULTS, { key });
      expect(all.body).toEqual({ total: 7, limit: 50, offset: 0, vaults: expected });
      for (const vault of all.body.vaults) expectVaultShape(vault);

      const page1 = await t.request('GET', `${VAULTS}?limit=3`, { key });
      const page2 = await t.request('GET', `${VAULTS}?limit=3&offset=3`, { key });
      const page3 = await t.request('GET', `${VAULTS}?limit=3&offset=6`, { key });
      expect(page1.body).toEqual({ total: 7, limit: 3, offset: 0, vaults: expected.slice(0, 3) });
      expect(page2.body).toEqual({ total: 7, limit: 3, offset: 3, vaults: expected.slice(3, 6) });
      expect(page3.body).toEqual({ total: 7, limit: 3, offset: 6, vaults: expected.slice(6) });

      const beyond = await t.request('GET', `${VAULTS}?offset=100`, { key });
      expect(beyond.body).toEqual({ total: 7, limit: 50, offset: 100, vaults: [] });
      const max = await t.request('GET', `${VAULTS}?limit=1000&offset=0`, { key });
      expect(max.body).toEqual({ total: 7, limit: 1000, offset: 0, vaults: expected });

      // Stable: asking again gives the same order.
      expect((await t.request('GET', VAULTS, { key })).body.vaults).toEqual(expected);
    });

    it('orders vaults created in the same millisecond by id', async () => {
      const { key } = await t.newOrg();
      // Parallel creates are likely to share a created_at; the order must still be (created_at, id).
      const responses = await Promise.all(
        Array.from({ length: 8 }, (_, i) => t.request('POST', VAULTS, { key, body: createBody(`p${i}`, t.fixture.token()) })),
      );
      for (const r of responses) expect(r.status).toBe(201);
      const expected = responses
        .map((r) => r.body)
        .sort((a, b) => (a.created_at === b.created_at ? (a.id < b.id ? -1 : 1) : a.created_at < b.created_at ? -1 : 1));
      const list = await t.request('GET', VAULTS, { key });
      expect(list.body.vaults).toEqual(expected);
    });

    it('answers 422 at ["query","limit"] for limit 0 and 1001', async () => {
      const { key } = await t.newOrg();
      const zero = await t.request('GET', `${VAULTS}?limit=0`, { key });
      expect(zero.body).toEqual({
        detail: [
          {
            type: 'greater_than_equal',
            loc: ['query', 'limit'],
            msg: 'Input should be greater than or equal to 1',
            input: '0',
            ctx: { ge: 1 },
          },
        ],
      });
      const big = await t.request('GET', `${VAULTS}?limit=1001`, { key });
      expect(big.body).toEqual({
        detail: [
          {
            type: 'less_than_equal',
            loc: ['query', 'limit'],
            msg: 'Input should be less than or equal to 1000',
            input: '1001',
            ctx: { le: 1000 },
          },
        ],
      });
    });

    it('answers 422 int_parsing for a limit that is not an integer', async () => {
      const { key } = await t.newOrg();
      for (const value of ['abc', '1.5', '', 'true', '0x10', '1e1']) {
        const res = await t.request('GET', `${VAULTS}?limit=${encodeURIComponent(value)}`, { key });
        expect(res.body, value).toEqual({
          detail: [
            {
              type: 'int_parsing',
              loc: ['query', 'limit'],
              msg: 'Input should be a valid integer, unable to parse string as an integer',
              input: value,
            },
          ],
        });
      }
    });

    it('answers 422 at ["query","offset"] for a negative offset, listing every bad parameter', async () => {
      const { key } = await t.newOrg();
      const neg = await t.request('GET', `${VAULTS}?offset=-1`, { key });
      expect(neg.body).toEqual({
        detail: [
          {
            type: 'greater_than_equal',
            loc: ['query', 'offset'],
            msg: 'Input should be greater than or equal to 0',
            input: '-1',
            ctx: { ge: 0 },
          },
        ],
      });
      // An absurd offset is refused (never a database error), whatever its notation.
      for (const value of ['99999999999999999999', '9223372036854775808']) {
        const huge = await t.request('GET', `${VAULTS}?offset=${value}`, { key });
        expect(huge.status, value).toBe(422);
        expect(huge.body.detail).toHaveLength(1);
        expect(huge.body.detail[0]).toMatchObject({ loc: ['query', 'offset'], input: value });
      }
      const both = issuesByLoc(await t.request('GET', `${VAULTS}?limit=abc&offset=-1`, { key }));
      expect(Object.keys(both).sort()).toEqual(['["query","limit"]', '["query","offset"]']);
      expect(both['["query","limit"]']?.type).toBe('int_parsing');
      expect(both['["query","offset"]']?.type).toBe('greater_than_equal');
    });
  });

  describe('GET /api/v2/vaults/{vault_id} (retrieve)', () => {
    it('answers 200 with the vault object', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const res = await t.request('GET', `${VAULTS}/${vault.id}`, { key });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(vault);
      expectVaultShape(res.body);
    });

    it('accepts an upper-case UUID and answers with the lower-case id', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const res = await t.request('GET', `${VAULTS}/${vault.id.toUpperCase()}`, { key });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(vault);
    });

    it('answers 404 {"detail":"Vault not found"} for an unknown id', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('GET', `${VAULTS}/${MISSING_ID}`, { key });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'Vault not found' });
    });

    it('answers 422 at ["path","vault_id"] for a non-UUID id', async () => {
      const { key } = await t.newOrg();
      for (const id of [
        'not-a-uuid',
        '123',
        '00000000-0000-4000-8000-00000000000g',
        '00000000-0000-4000-8000-0000000000000',
        'a'.repeat(5000),
      ]) {
        const res = await t.request('GET', `${VAULTS}/${id}`, { key });
        expect(res.status, id).toBe(422);
        expect(res.body.detail).toHaveLength(1);
        expect(res.body.detail[0]).toMatchObject({ type: 'uuid_parsing', loc: ['path', 'vault_id'], input: id });
        expect(res.body.detail[0].msg).toMatch(/^Input should be a valid UUID, /);
      }
    });
  });

  describe('PATCH /api/v2/vaults/{vault_id} (update)', () => {
    it('answers 200 for {} and changes nothing, not even updated_at', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      await sleep(5);
      const res = await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: {} });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(vault);
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).body).toEqual(vault);
    });

    it('keeps updated_at when the values sent are the current ones', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key, { name: 'same' });
      await sleep(5);
      const res = await t.request('PATCH', `${VAULTS}/${vault.id}`, {
        key,
        body: { name: 'same', provider_config: { provider: 'onepassword', op_vault_id: OP_VAULT } },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(vault);
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).body).toEqual(vault);
    });

    it('renames, moves updated_at and keeps everything else', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key, { name: 'old' });
      await sleep(5);
      const res = await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: 'new', ignored: true } });
      expect(res.status).toBe(200);
      expectVaultShape(res.body);
      expect(res.body).toMatchObject({
        id: vault.id,
        org_id: vault.org_id,
        name: 'new',
        provider_config: vault.provider_config,
        created_at: vault.created_at,
      });
      expect(Date.parse(res.body.updated_at)).toBeGreaterThan(Date.parse(vault.updated_at));
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).body).toEqual(res.body);
      // The old name is free again.
      expect((await t.request('POST', VAULTS, { key, body: createBody('old', t.fixture.token()) })).status).toBe(201);
    });

    it('answers 422 "cannot be null" for explicit nulls', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const name = issuesByLoc(await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: null } }));
      expect(Object.keys(name)).toEqual(['["body","name"]']);
      expect(name['["body","name"]']?.msg).toMatch(/cannot be null/);
      expect(name['["body","name"]']?.input).toBeNull();
      const pc = issuesByLoc(await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { provider_config: null } }));
      expect(Object.keys(pc)).toEqual(['["body","provider_config"]']);
      expect(pc['["body","provider_config"]']?.msg).toMatch(/cannot be null/);
      const both = issuesByLoc(await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: null, provider_config: null } }));
      expect(Object.keys(both).sort()).toEqual(['["body","name"]', '["body","provider_config"]']);
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).body).toEqual(vault);
    });

    it('answers 422 at ["body","token"] with the exact message for a token key, never echoing it', async () => {
      const { key } = await t.newOrg();
      const { vault, token } = await createVault(t, key);
      const newToken = t.fixture.token();
      const res = await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: 'renamed', token: newToken } });
      expect(res.status).toBe(422);
      expect(res.body.detail).toHaveLength(1);
      expect(res.body.detail[0]).toMatchObject({
        loc: ['body', 'token'],
        msg: 'The token cannot be changed with PATCH; use PUT /api/v2/vaults/{vault_id}/token',
        input: TOKEN_MASK,
      });
      expect(res.text).not.toContain(newToken);
      // Nothing changed: not the name, and the stored token is still the old one.
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).body).toEqual(vault);
      t.fixture.setState(newToken, 'revoked');
      expect((await health(t, key, vault.id)).body).toEqual({ ok: true, error: null });
      expect(token).not.toBe(newToken);
    });

    it('validates like create: empty name, white space, bad provider', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const empty = issuesByLoc(await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: '' } }));
      expect(empty['["body","name"]']).toMatchObject({ type: 'string_too_short', ctx: { min_length: 1 } });
      const blank = issuesByLoc(await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: '  ' } }));
      expect(blank['["body","name"]']).toMatchObject({ type: 'value_error' });
      const provider = issuesByLoc(
        await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { provider_config: { provider: 'x', op_vault_id: 'a b' } } }),
      );
      expect(Object.keys(provider).sort()).toEqual(['["body","provider_config","op_vault_id"]', '["body","provider_config","provider"]']);
      const notObject = await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: [] });
      expect(notObject.body.detail[0]).toMatchObject({ type: 'model_attributes_type', loc: ['body'] });
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).body).toEqual(vault);
    });

    it('answers 409 when renaming to a name another vault holds', async () => {
      const { key } = await t.newOrg();
      await createVault(t, key, { name: 'a' });
      const { vault: b } = await createVault(t, key, { name: 'b' });
      const res = await t.request('PATCH', `${VAULTS}/${b.id}`, { key, body: { name: 'a' } });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ detail: "A vault named 'a' already exists in this organization" });
      expect((await t.request('GET', `${VAULTS}/${b.id}`, { key })).body).toEqual(b);
    });

    it('re-checks the stored token when op_vault_id changes: a vault it can read → 200', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token([OP_VAULT, OTHER_OP_VAULT]);
      const { vault } = await createVault(t, key, { token });
      await sleep(5);
      const res = await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { provider_config: { op_vault_id: OTHER_OP_VAULT } } });
      expect(res.status).toBe(200);
      expect(res.body.provider_config).toEqual({ provider: 'onepassword', op_vault_id: OTHER_OP_VAULT });
      expect(Date.parse(res.body.updated_at)).toBeGreaterThan(Date.parse(vault.updated_at));
      expect((await health(t, key, vault.id)).body).toEqual({ ok: true, error: null });
    });

    it('re-checks the stored token when op_vault_id changes: a vault it cannot read → 422, nothing changes', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key); // token reads OP_VAULT only
      const res = await t.request('PATCH', `${VAULTS}/${vault.id}`, {
        key,
        body: { name: 'renamed', provider_config: { op_vault_id: OTHER_OP_VAULT } },
      });
      expect(res.status).toBe(422);
      expect(res.body.detail).toHaveLength(1);
      expect(res.body.detail[0]).toMatchObject({
        type: 'provider_rejected',
        loc: ['body', 'provider_config', 'op_vault_id'],
        msg: `This service account token cannot access 1Password vault '${OTHER_OP_VAULT}'`,
      });
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).body).toEqual(vault);
    });

    it('answers 503 and changes nothing when 1Password is unreachable during the re-check', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token([OP_VAULT, OTHER_OP_VAULT]);
      const { vault } = await createVault(t, key, { token });
      t.fixture.setFaults({ unavailable: true });
      const res = await t.request('PATCH', `${VAULTS}/${vault.id}`, {
        key,
        body: { name: 'renamed', provider_config: { op_vault_id: OTHER_OP_VAULT } },
      });
      expect503(res);
      t.fixture.setFaults({});
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).body).toEqual(vault);
    });

    it('answers 422 at op_vault_id when the stored token was revoked, and changes nothing', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token([OP_VAULT, OTHER_OP_VAULT]);
      const { vault } = await createVault(t, key, { token });
      t.fixture.setState(token, 'revoked');
      const res = await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { provider_config: { op_vault_id: OTHER_OP_VAULT } } });
      expect(res.status).toBe(422);
      expect(res.body.detail).toHaveLength(1);
      expect(res.body.detail[0]).toMatchObject({ type: 'provider_rejected', loc: ['body', 'provider_config', 'op_vault_id'] });
      expect(res.text).not.toContain(token);
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).body).toEqual(vault);
      // A rename alone needs no provider and still works.
      expect((await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: 'renamed' } })).status).toBe(200);
    });

    it('answers 404 for an unknown vault and 422 for a non-UUID id', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('PATCH', `${VAULTS}/${MISSING_ID}`, { key, body: { name: 'x' } });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'Vault not found' });
      const bad = await t.request('PATCH', `${VAULTS}/nope`, { key, body: { name: 'x' } });
      expect(bad.status).toBe(422);
      expect(bad.body.detail[0].loc).toEqual(['path', 'vault_id']);
    });
  });

  describe('PUT /api/v2/vaults/{vault_id}/token (rotate)', () => {
    it('answers 204 with no body and uses the new token from then on', async () => {
      const { key } = await t.newOrg();
      const { vault, token: oldToken } = await createVault(t, key);
      const newToken = t.fixture.token();
      const res = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken } });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      // The old token no longer matters; the new one does.
      t.fixture.setState(oldToken, 'revoked');
      expect((await health(t, key, vault.id)).body).toEqual({ ok: true, error: null });
      t.fixture.setState(newToken, 'revoked');
      expect((await health(t, key, vault.id)).body).toEqual({ ok: false, error: '1Password: invalid service account token' });
      // The vault object itself does not change shape or reveal anything.
      const got = await t.request('GET', `${VAULTS}/${vault.id}`, { key });
      expectVaultShape(got.body);
      expect(got.text).not.toContain(newToken);
    });

    it('answers 422 provider_rejected for a refused token and keeps the old token', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const revoked = t.fixture.token([OP_VAULT], 'revoked');
      const res = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: revoked } });
      expect(res.status).toBe(422);
      expect(res.body).toEqual({
        detail: [
          { type: 'provider_rejected', loc: ['body', 'token'], msg: '1Password rejected the service account token', input: TOKEN_MASK },
        ],
      });
      expect((await health(t, key, vault.id)).body).toEqual({ ok: true, error: null });
    });

    it('answers 422 for a token that cannot read the vault and keeps the old token', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const elsewhere = t.fixture.token([OTHER_OP_VAULT]);
      const res = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: elsewhere } });
      expect(res.status).toBe(422);
      expect(res.body.detail).toHaveLength(1);
      expect(res.body.detail[0]).toMatchObject({
        type: 'provider_rejected',
        msg: `This service account token cannot access 1Password vault '${OP_VAULT}'`,
      });
      expect(res.text).not.toContain(elsewhere);
      // Had the refused token been stored, health would say it cannot access the vault.
      expect((await health(t, key, vault.id)).body).toEqual({ ok: true, error: null });
    });

    it('answers 503 and keeps the old token when 1Password is unreachable', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const newToken = t.fixture.token();
      t.fixture.setFaults({ unavailable: true });
      const res = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken } });
      expect503(res);
      t.fixture.setFaults({});
      // If the new token had been stored, revoking it would break health.
      t.fixture.setState(newToken, 'revoked');
      expect((await health(t, key, vault.id)).body).toEqual({ ok: true, error: null });
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).body).toEqual(vault);
    });

    it('refuses a malformed token with token_format without calling the provider', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      t.fixture.setFaults({ rate_limit_after: 0 });
      const res = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: 'ops_notatoken' } });
      expect(res.status).toBe(422);
      expect(res.body.detail).toHaveLength(1);
      expect(res.body.detail[0]).toMatchObject({ type: 'token_format', loc: ['body', 'token'], input: TOKEN_MASK });
      t.fixture.setFaults({});
      expect((await health(t, key, vault.id)).body).toEqual({ ok: true, error: null });
    });

    it('answers 422 for a missing or non-string token', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const missing = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: {} });
      expect(missing.body).toEqual({ detail: [{ type: 'missing', loc: ['body', 'token'], msg: 'Field required', input: {} }] });
      const number = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: 123 } });
      expect(number.body).toEqual({
        detail: [{ type: 'string_type', loc: ['body', 'token'], msg: 'Input should be a valid string', input: TOKEN_MASK }],
      });
      const none = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key });
      expect(none.body).toEqual({ detail: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }] });
    });

    it('answers 404 for an unknown vault', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('PUT', `${VAULTS}/${MISSING_ID}/token`, { key, body: { token: t.fixture.token() } });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'Vault not found' });
    });
  });

  describe('DELETE /api/v2/vaults/{vault_id}', () => {
    it('answers 204, then 404, and frees the name', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key, { name: 'doomed' });
      const res = await t.request('DELETE', `${VAULTS}/${vault.id}`, { key });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).status).toBe(404);
      const again = await t.request('DELETE', `${VAULTS}/${vault.id}`, { key });
      expect(again.status).toBe(404);
      expect(again.body).toEqual({ detail: 'Vault not found' });
      expect((await health(t, key, vault.id)).status).toBe(404);
      expect(await listTotal(t, key)).toBe(0);
      const recreated = await t.request('POST', VAULTS, { key, body: createBody('doomed', t.fixture.token()) });
      expect(recreated.status).toBe(201);
      expect(recreated.body.id).not.toBe(vault.id);
    });

    it('answers 404 for an unknown vault', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('DELETE', `${VAULTS}/${MISSING_ID}`, { key });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'Vault not found' });
    });
  });

  describe('GET /api/v2/vaults/{vault_id}/health', () => {
    it('answers ok for a working token', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const res = await health(t, key, vault.id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: true, error: null });
    });

    it('reports a revoked or expired token with 200', async () => {
      const { key } = await t.newOrg();
      const { vault, token } = await createVault(t, key);
      t.fixture.setState(token, 'revoked');
      const revoked = await health(t, key, vault.id);
      expect(revoked.status).toBe(200);
      expect(revoked.body).toEqual({ ok: false, error: '1Password: invalid service account token' });
      t.fixture.setState(token, 'expired');
      expect((await health(t, key, vault.id)).body).toEqual({ ok: false, error: '1Password: invalid service account token' });
      t.fixture.setState(token, 'active');
      expect((await health(t, key, vault.id)).body).toEqual({ ok: true, error: null });
    });

    it('reports a token that lost access to the vault', async () => {
      const { key } = await t.newOrg();
      const { vault, token } = await createVault(t, key);
      t.fixture.data.tokens[token] = { vaults: [OTHER_OP_VAULT], state: 'active' };
      t.fixture.write();
      const res = await health(t, key, vault.id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: false, error: `1Password: this token cannot access vault '${OP_VAULT}'` });
    });

    it('reports 1Password unreachable with 200', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      t.fixture.setFaults({ unavailable: true });
      const res = await health(t, key, vault.id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: false, error: '1Password: unreachable' });
    });

    it('reports 1Password rate limiting with 200', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      t.fixture.setFaults({ rate_limit_after: 0 });
      const res = await health(t, key, vault.id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: false, error: '1Password: rate limited' });
    });

    it('reports a timeout with 200 within the deadline', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      t.fixture.setFaults({ latency_ms: DEADLINE_MS + 4000 });
      const started = Date.now();
      const res = await health(t, key, vault.id);
      const elapsed = Date.now() - started;
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: false, error: '1Password: timed out' });
      expect(elapsed).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
      expect(elapsed).toBeLessThan(DEADLINE_MS + SLACK_MS);
    });

    it('answers 404 for an unknown vault and 422 for a non-UUID id', async () => {
      const { key } = await t.newOrg();
      const res = await health(t, key, MISSING_ID);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'Vault not found' });
      const bad = await health(t, key, 'xyz');
      expect(bad.status).toBe(422);
      expect(bad.body.detail[0]).toMatchObject({ type: 'uuid_parsing', loc: ['path', 'vault_id'] });
    });
  });

  describe('authentication', () => {
    const routes = (id: string): [string, string, unknown?][] => [
      ['POST', VAULTS, { name: 'x', provider_config: { op_vault_id: OP_VAULT }, token: 'ops_x' }],
      ['GET', VAULTS],
      ['GET', `${VAULTS}/${id}`],
      ['PATCH', `${VAULTS}/${id}`, { name: 'y' }],
      ['PUT', `${VAULTS}/${id}/token`, { token: 'ops_x' }],
      ['DELETE', `${VAULTS}/${id}`],
      ['GET', `${VAULTS}/${id}/health`],
    ];

    it('answers one identical 401 for a missing, malformed, unknown or revoked key on every route', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const revoked = await t.newOrg();
      await t.revokeKey(revoked.keyId);
      const unknownKey = `sesame_ak_${'A'.repeat(43)}`;
      const variants: Record<string, string | undefined>[] = [
        {},
        { authorization: 'Basic dXNlcjpwYXNz' },
        { authorization: 'Bearer' },
        { authorization: 'Bearer ' },
        { authorization: `Token ${key}` },
        { authorization: 'Bearer not-a-key' },
        { authorization: `Bearer ${key}x` },
        { authorization: `Bearer ${unknownKey}` },
        { authorization: `Bearer ${revoked.key}` },
      ];
      const bodies = new Set<string>();
      for (const [method, path, body] of routes(vault.id)) {
        for (const headers of variants) {
          const res = await t.request(method, path, { body, headers: headers as Record<string, string> });
          expect(res.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
          expect(res.headers.get('www-authenticate')).toBe('Bearer');
          expect(res.body).toEqual({ detail: 'Authentication required' });
          bodies.add(res.text);
        }
      }
      expect(bodies.size).toBe(1);
      // Nothing happened to the vault.
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).body).toEqual(vault);
    });

    it('checks authentication before anything else about the request', async () => {
      const cases: { method: string; path: string; rawBody?: string; contentType?: string }[] = [
        { method: 'POST', path: VAULTS, rawBody: '{not json', contentType: 'application/json' },
        { method: 'POST', path: VAULTS, rawBody: '{}', contentType: 'text/plain' },
        { method: 'POST', path: VAULTS, rawBody: JSON.stringify({ pad: 'p'.repeat(70 * 1024) }), contentType: 'application/json' },
        { method: 'POST', path: VAULTS, rawBody: '{}', contentType: 'application/json' },
        { method: 'GET', path: `${VAULTS}/not-a-uuid` },
        { method: 'GET', path: `${VAULTS}?limit=0` },
        { method: 'PATCH', path: `${VAULTS}/${MISSING_ID}`, rawBody: '{"token": "x"}', contentType: 'application/json' },
      ];
      for (const c of cases) {
        const headers: Record<string, string> = c.contentType ? { 'content-type': c.contentType } : {};
        const res = await t.request(c.method, c.path, { rawBody: c.rawBody, headers });
        expect(res.status, `${c.method} ${c.path} ${c.contentType}`).toBe(401);
        expect(res.body).toEqual({ detail: 'Authentication required' });
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
    });

    it('stops accepting a key as soon as it is revoked', async () => {
      const { key, keyId } = await t.newOrg();
      expect((await t.request('GET', VAULTS, { key })).status).toBe(200);
      await t.revokeKey(keyId);
      const res = await t.request('GET', VAULTS, { key });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Authentication required' });
    });

    it('accepts a case-insensitive "bearer" scheme', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('GET', VAULTS, { headers: { authorization: `bearer ${key}` } });
      expect(res.status).toBe(200);
    });
  });

  describe('routing and service endpoints', () => {
    it('answers 404 {"detail":"Not Found"} for an unknown route', async () => {
      const { key } = await t.newOrg();
      for (const path of ['/nope', '/api/v2/nope', '/api/v2/vaults/x/y/z', '/api/v1/vaults']) {
        const res = await t.request('GET', path, { key });
        expect(res.status, path).toBe(404);
        expect(res.body).toEqual({ detail: 'Not Found' });
      }
      expect((await t.request('GET', '/api/v2/nope')).body).toEqual({ detail: 'Not Found' });
    });

    it('answers 405 {"detail":"Method Not Allowed"} for a known route with a wrong method', async () => {
      const { key } = await t.newOrg();
      const cases: [string, string][] = [
        ['PUT', VAULTS],
        ['DELETE', VAULTS],
        ['PATCH', VAULTS],
        ['POST', `${VAULTS}/${MISSING_ID}`],
        ['PUT', `${VAULTS}/${MISSING_ID}`],
        ['GET', `${VAULTS}/${MISSING_ID}/token`],
        ['POST', `${VAULTS}/${MISSING_ID}/token`],
        ['POST', `${VAULTS}/${MISSING_ID}/health`],
        ['POST', '/healthz'],
      ];
      for (const [method, path] of cases) {
        const res = await t.request(method, path, { key });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.body).toEqual({ detail: 'Method Not Allowed' });
      }
    });

    it('answers malformed requests with a 4xx, never a 5xx', async () => {
      const { key } = await t.newOrg();
      const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
      const deepObject = `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`;
      const cases: { method: string; path: string; rawBody?: string; headers?: Record<string, string> }[] = [
        { method: 'POST', path: VAULTS, rawBody: deep },
        { method: 'POST', path: VAULTS, rawBody: `{"name": ${deepObject}, "provider_config": ${deepObject}, "token": ${deepObject}}` },
        {
          method: 'POST',
          path: VAULTS,
          rawBody: `{"name": 1e999999, "provider_config": {"op_vault_id": 123456789012345678901234567890}, "token": -0}`,
        },
        {
          method: 'POST',
          path: VAULTS,
          rawBody: '{"name": "\ud800", "provider_config": {"op_vault_id": "\u0000"}, "token": "ops_\u0000"}',
        },
        { method: 'POST', path: VAULTS, rawBody: '{"__proto__": {"name": "x"}, "constructor": {"prototype": {}}}' },
        { method: 'PATCH', path: `${VAULTS}/${MISSING_ID}`, rawBody: deepObject },
        { method: 'GET', path: `${VAULTS}?limit=99999999999999999999999&offset=1e400` },
        { method: 'GET', path: `${VAULTS}?offset=99999999999999999999` },
        { method: 'GET', path: `${VAULTS}?offset=1e400` },
        { method: 'GET', path: `${VAULTS}?offset=9223372036854775808` },
        { method: 'GET', path: `${VAULTS}/%ff%fe` },
        { method: 'GET', path: `${VAULTS}/%ff%fe/health` },
        { method: 'GET', path: `/api/v2/%c0%af` },
      ];
      for (const c of cases) {
        const res = await t.request(c.method, c.path, {
          key,
          rawBody: c.rawBody,
          headers: { 'content-type': 'application/json', ...c.headers },
        });
        expect(res.status, `${c.method} ${c.path} ${c.rawBody?.slice(0, 40)}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${c.method} ${c.path} ${c.rawBody?.slice(0, 40)}`).toBeLessThan(500);
        expect(res.body?.detail).toBeDefined();
        // The error shape of the API, not the framework's ({"error", "code", "message", "statusCode"}).
        expect(Object.keys(res.body)).toEqual(['detail']);
      }
      // A repeated parameter counts as its last value (as FastAPI reads it); unknown parameters are ignored.
      const repeated = await t.request('GET', `${VAULTS}?limit=1&limit=2&offset[]=3`, { key });
      expect(repeated.status).toBe(200);
      expect(repeated.body).toMatchObject({ limit: 2, offset: 0 });
      // Invalid UTF-8 in the body.
      const invalidUtf8 = Buffer.concat([
        Buffer.from('{"name": "'),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from('", "provider_config": {"op_vault_id": "x"}, "token": "ops_x"}'),
      ]);
      const raw = await fetch(`${t.url}${VAULTS}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: invalidUtf8,
      });
      expect(raw.status).toBeGreaterThanOrEqual(400);
      expect(raw.status).toBeLessThan(500);
      expect(await listTotal(t, key)).toBe(0);
    });

    it('refuses control characters and lone surrogates in a name with a 422 (PostgreSQL cannot store NUL)', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      for (const name of ['a\u0000b', 'tab\there', 'surrogate\ud800']) {
        const created = await t.request('POST', VAULTS, { key, body: createBody(name, t.fixture.token()) });
        expect(created.status, created.text).toBe(422);
        expect(created.body.detail).toMatchObject([{ type: 'value_error', loc: ['body', 'name'] }]);
      }
      const renamed = await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: 'x\u0000' } });
      expect(renamed.status, renamed.text).toBe(422);
      const repointed = await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { provider_config: { op_vault_id: 'v\u0000' } } });
      expect(repointed.body.detail).toMatchObject([{ type: 'value_error', loc: ['body', 'provider_config', 'op_vault_id'] }]);
      expect(await listTotal(t, key)).toBe(1);
    });

    it('answers errors as application/json', async () => {
      const { key } = await t.newOrg();
      const responses = [
        await t.request('GET', VAULTS),
        await t.request('GET', `${VAULTS}/${MISSING_ID}`, { key }),
        await t.request('GET', `${VAULTS}/nope`, { key }),
        await t.request('PUT', VAULTS, { key }),
        await t.request('GET', '/nope', { key }),
        await t.request('POST', VAULTS, { key, rawBody: 'x', headers: { 'content-type': 'text/plain' } }),
      ];
      for (const res of responses) expect(res.headers.get('content-type'), `${res.status}`).toMatch(/^application\/json/);
    });

    it('answers /healthz and /readyz with 200', async () => {
      const healthz = await t.request('GET', '/healthz');
      expect(healthz.status).toBe(200);
      const readyz = await t.request('GET', '/readyz');
      expect(readyz.status).toBe(200);
    });

    it('serves an OpenAPI 3.1 document listing all seven operations', async () => {
      const res = await t.request('GET', '/openapi.json');
      expect(res.status).toBe(200);
      expect(res.body.openapi).toMatch(/^3\.1\./);
      const operations = Object.entries(res.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
        Object.keys(item)
          // The vault operations; grants, events and fill have suites of their own.
          .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
          .filter((m) => (item[m] as { tags?: string[] }).tags?.includes('vaults'))
          .map((m) => `${m.toUpperCase()} ${path}`),
      );
      expect(operations.sort()).toEqual(
        [
          'POST /api/v2/vaults',
          'GET /api/v2/vaults',
          'GET /api/v2/vaults/{vault_id}',
          'PATCH /api/v2/vaults/{vault_id}',
          'DELETE /api/v2/vaults/{vault_id}',
          'PUT /api/v2/vaults/{vault_id}/token',
          'GET /api/v2/vaults/{vault_id}/health',
        ].sort(),
      );
      // The token is write-only: no response schema may describe it.
      const vaultSchema = JSON.stringify(res.body.paths['/api/v2/vaults/{vault_id}'].get.responses['200']);
      expect(vaultSchema).not.toMatch(/"token"/);
    });
  });
});
