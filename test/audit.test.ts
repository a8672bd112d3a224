// Audit events for vault config changes, health checks and grants (docs/fill.md,
// "Audit events"), read per vault newest first, on both databases. Fill and list_secrets events are
// asserted by the fill suites.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OP_VAULT, OTHER_OP_VAULT } from './helpers/fixture.js';
import { describeDialects, startTestServer, type TestServer } from './helpers/server.js';
import { createVault, ISO_UTC, MISSING_ID, UUID_LOWER, VAULTS } from './helpers/vaults.js';

const EVENT_KEYS = ['action', 'actor', 'field', 'id', 'item_id', 'org_id', 'origin', 'outcome', 'reason', 'time', 'vault_id'];

describeDialects('audit events (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ dialect });
  });
  afterAll(() => t?.close());

  const events = (vaultId: string, query = '') => `${VAULTS}/${vaultId}/events${query}`;

  it('records every config change and health check with its actor, newest first', async () => {
    const { key, keyId, orgId } = await t.newOrg();
    const token = t.fixture.token([OP_VAULT, OTHER_OP_VAULT]);
    const { vault } = await createVault(t, key, { token });
    expect((await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: `${vault.name}-2` } })).status).toBe(200);
    // A PATCH that changes nothing changes nothing, and is not recorded.
    expect((await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: {} })).status).toBe(200);
    expect((await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token } })).status).toBe(204);
    expect((await t.request('GET', `${VAULTS}/${vault.id}/health`, { key })).body.ok).toBe(true);
    t.fixture.setState(token, 'revoked');
    expect((await t.request('GET', `${VAULTS}/${vault.id}/health`, { key })).body.ok).toBe(false);
    t.fixture.setState(token, 'active');
    // A refused change is not a change.
    expect((await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { provider_config: { op_vault_id: 'nosuch' } } })).status).toBe(
      422,
    );

    const res = await t.request('GET', events(vault.id), { key });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 5, limit: 50, offset: 0 });
    const list = res.body.events;
    expect(list.map((e: { action: string }) => e.action)).toEqual([
      'vault.health',
      'vault.health',
      'vault.rotate',
      'vault.update',
      'vault.create',
    ]);
    expect(list.map((e: { outcome: string }) => e.outcome)).toEqual(['failed', 'ok', 'ok', 'ok', 'ok']);
    expect(list[0].reason).toBe('token_rejected');
    for (const e of list) {
      expect(Object.keys(e).sort()).toEqual(EVENT_KEYS);
      expect(e).toMatchObject({
        org_id: orgId,
        vault_id: vault.id,
        actor: { type: 'api_key', id: keyId },
        origin: null,
        field: null,
        item_id: null,
      });
      expect(e.id).toMatch(UUID_LOWER);
      expect(e.time).toMatch(ISO_UTC);
    }
    // Ids are time-ordered, so newest-first is also descending id order.
    expect([...list.map((e: { id: string }) => e.id)].sort().reverse()).toEqual(list.map((e: { id: string }) => e.id));
    // The token never reaches the trail.
    expect(res.text).not.toContain(token.slice(4, 40));
  });

  it('pages with limit and offset and validates them', async () => {
    const { key } = await t.newOrg();
    const { vault } = await createVault(t, key);
    for (let i = 0; i < 4; i++) await t.request('GET', `${VAULTS}/${vault.id}/health`, { key });
    const all = (await t.request('GET', events(vault.id), { key })).body.events.map((e: { id: string }) => e.id);
    expect(all).toHaveLength(5);
    const page = await t.request('GET', events(vault.id, '?limit=2&offset=1'), { key });
    expect(page.body).toMatchObject({ total: 5, limit: 2, offset: 1 });
    expect(page.body.events.map((e: { id: string }) => e.id)).toEqual(all.slice(1, 3));
    expect((await t.request('GET', events(vault.id, '?offset=10'), { key })).body.events).toEqual([]);
    for (const query of ['?limit=0', '?limit=1001', '?offset=-1', '?limit=x']) {
      expect((await t.request('GET', events(vault.id, query), { key })).status).toBe(422);
    }
    expect((await t.request('GET', events('not-a-uuid'), { key })).status).toBe(422);
  });

  it("answers 404 for a missing vault and for another org's vault", async () => {
    const a = await t.newOrg();
    const b = await t.newOrg();
    const { vault } = await createVault(t, a.key);
    const onA = await t.request('GET', events(vault.id), { key: b.key });
    const missing = await t.request('GET', events(MISSING_ID), { key: b.key });
    expect(onA.status).toBe(404);
    expect(onA.text).toBe(missing.text);
    expect((await t.request('GET', events(vault.id))).status).toBe(401);
  });

  it("keeps a deleted vault's trail readable, ending with its deletion", async () => {
    const { key, keyId } = await t.newOrg();
    const { vault } = await createVault(t, key);
    expect((await t.request('DELETE', `${VAULTS}/${vault.id}`, { key })).status).toBe(204);
    const res = await t.request('GET', events(vault.id), { key });
    expect(res.status).toBe(200);
    expect(res.body.events.map((e: { action: string }) => e.action)).toEqual(['vault.delete', 'vault.create']);
    expect(res.body.events[0].actor).toEqual({ type: 'api_key', id: keyId });
  });

  it('records grant minting and revocation', async () => {
    const { key, keyId } = await t.newOrg();
    const { vault } = await createVault(t, key);
    const grant = (await t.request('POST', `${VAULTS}/${vault.id}/grants`, { key, body: { expires_in: 600 } })).body;
    await t.request('DELETE', `${VAULTS}/${vault.id}/grants/${grant.id}`, { key });
    const list = (await t.request('GET', events(vault.id), { key })).body.events;
    expect(list.map((e: { action: string }) => e.action)).toEqual(['grant.revoke', 'grant.create', 'vault.create']);
    expect(list[0].actor).toEqual({ type: 'api_key', id: keyId });
    expect(JSON.stringify(list)).not.toContain(grant.grant);
  });
});
