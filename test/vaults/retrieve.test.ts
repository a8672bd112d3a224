// The /api/v2/vaults contract, GET /api/v2/vaults/{vault_id} (retrieve).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeDialects, type TestServer } from '../helpers/server.js';
import { createVault, MISSING_ID, VAULTS } from '../helpers/vaults.js';
import { expectVaultShape, startContractServer } from './contract.js';

describeDialects('vaults contract (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startContractServer(dialect);
  });
  afterAll(() => t?.close());
  // Faults are per server: every test starts with a healthy provider.
  afterEach(() => t.fixture.setFaults({}));

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
});
