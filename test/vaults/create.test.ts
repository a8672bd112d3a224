// The /api/v2/vaults contract, POST /api/v2/vaults (create): validation, content types, body limits and
// what 1Password says about the token.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OP_VAULT, OTHER_OP_VAULT } from '../helpers/fixture.js';
import { describeDialects, type TestServer } from '../helpers/server.js';
import { createBody, createVault, health, listTotal, MISSING_ID, TOKEN_MASK, VAULTS } from '../helpers/vaults.js';
import { DEADLINE_MS, expect503, expectVaultShape, issuesByLoc, SLACK_MS, startContractServer } from './contract.js';

describeDialects('vaults contract (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startContractServer(dialect);
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

    it("answers json_invalid at the parser's position, with its message and without quoting the body", async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token();
      for (const [rawBody, position, error] of [
        ['{"name": "x",', 13, 'Expected double-quoted property name'],
        ['{name: 1}', 1, "Expected property name or '}'"],
        ['not json', 1, 'Unexpected token'],
        ['{"a":1}}', 7, 'Unexpected non-whitespace character after JSON'],
        ['{"name": "x" "provider_config": {}}', 13, "Expected ',' or '}' after property value"],
        [`{"token": ${token}}`, 10, 'Unexpected token'],
        ['{"name": "x", "token": "', 24, 'Unterminated string'],
      ] as const) {
        const res = await t.request('POST', VAULTS, { key, rawBody, headers: { 'content-type': 'application/json' } });
        expect(res.status).toBe(422);
        expect(res.body).toEqual({
          detail: [{ type: 'json_invalid', loc: ['body', position], msg: 'JSON decode error', input: {}, ctx: { error } }],
        });
        expect(res.text).not.toContain(token.slice(4, 16));
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
});
