// The /api/v2/vaults contract, DELETE /api/v2/vaults/{vault_id}.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeDialects, type TestServer } from '../helpers/server.js';
import { createBody, createVault, health, listTotal, MISSING_ID, VAULTS } from '../helpers/vaults.js';
import { startContractServer } from './contract.js';

describeDialects('vaults contract (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startContractServer(dialect);
  });
  afterAll(() => t?.close());
  // Faults are per server: every test starts with a healthy provider.
  afterEach(() => t.fixture.setFaults({}));

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
});
