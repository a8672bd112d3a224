// The /api/v2/vaults contract, PUT /api/v2/vaults/{vault_id}/token (rotate): the old token stays until 1Password
// accepts the new one.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OP_VAULT, OTHER_OP_VAULT } from '../helpers/fixture.js';
import { describeDialects, type TestServer } from '../helpers/server.js';
import { createVault, health, MISSING_ID, TOKEN_MASK, VAULTS } from '../helpers/vaults.js';
import { expect503, expectVaultShape, startContractServer } from './contract.js';

describeDialects('vaults contract (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startContractServer(dialect);
  });
  afterAll(() => t?.close());
  // Faults are per server: every test starts with a healthy provider.
  afterEach(() => t.fixture.setFaults({}));

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
      // At the token, the one field the request has (the platform's answer); the token is never echoed.
      expect(res.body.detail[0]).toEqual({
        type: 'provider_rejected',
        loc: ['body', 'token'],
        msg: `This service account token cannot access 1Password vault '${OP_VAULT}'`,
        input: TOKEN_MASK,
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
});
