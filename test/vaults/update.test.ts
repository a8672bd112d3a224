// The /api/v2/vaults contract, PATCH /api/v2/vaults/{vault_id} (update): renames and the re-check of the stored
// token when op_vault_id changes.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OP_VAULT, OTHER_OP_VAULT } from '../helpers/fixture.js';
import { describeDialects, type TestServer } from '../helpers/server.js';
import { createBody, createVault, health, MISSING_ID, sleep, TOKEN_MASK, VAULTS } from '../helpers/vaults.js';
import { expect503, expectVaultShape, issuesByLoc, startContractServer } from './contract.js';

describeDialects('vaults contract (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startContractServer(dialect);
  });
  afterAll(() => t?.close());
  // Faults are per server: every test starts with a healthy provider.
  afterEach(() => t.fixture.setFaults({}));

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

    it('keeps a field sent as null, as the platform does (its SDKs send null for a None argument)', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      for (const body of [{ name: null }, { provider_config: null }, { name: null, provider_config: null }]) {
        const res = await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body });
        expect(res.status, res.text).toBe(200);
        expect(res.body).toEqual(vault); // nothing changed, updated_at included
      }
      const renamed = await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: 'renamed', provider_config: null } });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toMatchObject({ name: 'renamed', provider_config: vault.provider_config });
      // A wrong type is still a 422 at the field, with only its own problem (not "or null").
      const wrong = issuesByLoc(await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: 5, provider_config: {} } }));
      expect(wrong).toEqual({
        '["body","name"]': { type: 'string_type', loc: ['body', 'name'], msg: 'Input should be a valid string', input: 5 },
        '["body","provider_config","op_vault_id"]': {
          type: 'missing',
          loc: ['body', 'provider_config', 'op_vault_id'],
          msg: 'Field required',
          input: {},
        },
      });
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
});
