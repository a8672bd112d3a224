// The /api/v2/vaults contract, GET /api/v2/vaults/{vault_id}/health: provider trouble reported with 200.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OP_VAULT, OTHER_OP_VAULT } from '../helpers/fixture.js';
import { describeDialects, type TestServer } from '../helpers/server.js';
import { createVault, health, MISSING_ID } from '../helpers/vaults.js';
import { DEADLINE_MS, SLACK_MS, startContractServer } from './contract.js';

describeDialects('vaults contract (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startContractServer(dialect);
  });
  afterAll(() => t?.close());
  // Faults are per server: every test starts with a healthy provider.
  afterEach(() => t.fixture.setFaults({}));

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
});
