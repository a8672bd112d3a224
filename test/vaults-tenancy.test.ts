// Tenancy: another org's vault is indistinguishable from a vault that does not exist, on every route,
// and acting on it changes nothing (docs/api.md, "Common rules").
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OP_VAULT, OTHER_OP_VAULT } from './helpers/fixture.js';
import { describeDialects, startTestServer, type TestResponse, type TestServer } from './helpers/server.js';
import { createBody, createVault, health, MISSING_ID, VAULTS } from './helpers/vaults.js';

interface Route {
  name: string;
  method: string;
  path: (id: string) => string;
  /** A body that would succeed on the caller's own vault. */
  body?: (t: TestServer) => unknown;
}

const ROUTES: Route[] = [
  { name: 'GET', method: 'GET', path: (id) => `${VAULTS}/${id}` },
  { name: 'PATCH name', method: 'PATCH', path: (id) => `${VAULTS}/${id}`, body: () => ({ name: 'hijacked' }) },
  {
    name: 'PATCH op_vault_id',
    method: 'PATCH',
    path: (id) => `${VAULTS}/${id}`,
    body: () => ({ provider_config: { op_vault_id: OTHER_OP_VAULT } }),
  },
  { name: 'PATCH {}', method: 'PATCH', path: (id) => `${VAULTS}/${id}`, body: () => ({}) },
  {
    name: 'PUT token',
    method: 'PUT',
    path: (id) => `${VAULTS}/${id}/token`,
    body: (t) => ({ token: t.fixture.token([OP_VAULT, OTHER_OP_VAULT]) }),
  },
  { name: 'DELETE', method: 'DELETE', path: (id) => `${VAULTS}/${id}` },
  { name: 'health', method: 'GET', path: (id) => `${VAULTS}/${id}/health` },
];

/** What a caller can observe of a response, minus what differs between any two responses (date). */
function observable(res: TestResponse) {
  const headers = [...res.headers.entries()].filter(([name]) => !['date', 'content-length'].includes(name));
  return { status: res.status, text: res.text, headers };
}

describeDialects('vaults tenancy (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ dialect });
  });
  afterAll(() => t?.close());

  it.each(ROUTES)("org B gets the same 404 for org A's vault as for a missing one: $name", async (route) => {
    const a = await t.newOrg();
    const b = await t.newOrg();
    const { vault, token } = await createVault(t, a.key, { token: t.fixture.token([OP_VAULT, OTHER_OP_VAULT]) });
    // B has a vault of its own, so B is a real, working tenant.
    await createVault(t, b.key);

    const body = route.body?.(t);
    const onA = await t.request(route.method, route.path(vault.id), { key: b.key, body });
    const onMissing = await t.request(route.method, route.path(MISSING_ID), { key: b.key, body });
    // Also with the id in upper case, which the API accepts as the same id.
    const onAUpper = await t.request(route.method, route.path(vault.id.toUpperCase()), { key: b.key, body });

    expect(onA.status).toBe(404);
    expect(onA.body).toEqual({ detail: 'Vault not found' });
    expect(observable(onA)).toEqual(observable(onMissing));
    expect(observable(onAUpper)).toEqual(observable(onMissing));

    // Org A's vault is untouched: same object, same token (healthy, and still A's token).
    const got = await t.request('GET', `${VAULTS}/${vault.id}`, { key: a.key });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(vault);
    expect((await health(t, a.key, vault.id)).body).toEqual({ ok: true, error: null });
    if (route.body && typeof (body as { token?: unknown })?.token === 'string') {
      // Had B's token been stored in A's vault, revoking it would break A's health.
      t.fixture.setState((body as { token: string }).token, 'revoked');
      expect((await health(t, a.key, vault.id)).body).toEqual({ ok: true, error: null });
    }
    t.fixture.setState(token, 'revoked');
    expect((await health(t, a.key, vault.id)).body).toEqual({ ok: false, error: '1Password: invalid service account token' });
    const list = await t.request('GET', VAULTS, { key: a.key });
    expect(list.body.total).toBe(1);
    expect(list.body.vaults).toEqual([vault]);
  });

  it("answers another org's vault without touching 1Password (no timing difference to a missing vault)", async () => {
    const a = await t.newOrg();
    const b = await t.newOrg();
    const { vault } = await createVault(t, a.key, { token: t.fixture.token([OP_VAULT, OTHER_OP_VAULT]) });
    // Any provider call now takes 1.5 s: an answer well under that made none.
    t.fixture.setFaults({ latency_ms: 1500 });
    try {
      for (const route of ROUTES) {
        for (const id of [vault.id, MISSING_ID]) {
          const started = Date.now();
          const res = await t.request(route.method, route.path(id), { key: b.key, body: route.body?.(t) });
          expect(res.status, route.name).toBe(404);
          expect(Date.now() - started, route.name).toBeLessThan(750);
        }
      }
    } finally {
      t.fixture.setFaults({});
    }
    expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key: a.key })).body).toEqual(vault);
  });

  it("never lists org A's vaults to org B", async () => {
    const a = await t.newOrg();
    const b = await t.newOrg();
    const aVaults = [];
    for (let i = 0; i < 3; i++) aVaults.push((await createVault(t, a.key, { name: `a${i}` })).vault);
    const emptyB = await t.request('GET', `${VAULTS}?limit=1000`, { key: b.key });
    expect(emptyB.body).toEqual({ total: 0, limit: 1000, offset: 0, vaults: [] });
    const { vault: bVault } = await createVault(t, b.key, { name: 'b0' });
    const listB = await t.request('GET', `${VAULTS}?limit=1000`, { key: b.key });
    expect(listB.body).toEqual({ total: 1, limit: 1000, offset: 0, vaults: [bVault] });
    for (const v of listB.body.vaults) expect(v.org_id).toBe(b.orgId);
    const listA = await t.request('GET', `${VAULTS}?limit=1000`, { key: a.key });
    expect(listA.body.total).toBe(3);
    expect(listA.body.vaults.map((v: { id: string }) => v.id).sort()).toEqual(aVaults.map((v) => v.id).sort());
    for (const v of listA.body.vaults) expect(v.org_id).toBe(a.orgId);
  });

  it('lets org B use a name org A already uses, in create and in rename', async () => {
    const a = await t.newOrg();
    const b = await t.newOrg();
    const { vault: aVault } = await createVault(t, a.key, { name: 'prod' });
    const res = await t.request('POST', VAULTS, { key: b.key, body: createBody('prod', t.fixture.token()) });
    expect(res.status).toBe(201);
    expect(res.body.org_id).toBe(b.orgId);
    expect(res.body.name).toBe('prod');
    const { vault: other } = await createVault(t, b.key, { name: 'staging' });
    const { vault: aStaging } = await createVault(t, a.key, { name: 'staging-a' });
    const renamed = await t.request('PATCH', `${VAULTS}/${other.id}`, { key: b.key, body: { name: 'staging-a' } });
    expect(renamed.status).toBe(200);
    // A's vaults are unchanged.
    expect((await t.request('GET', `${VAULTS}/${aVault.id}`, { key: a.key })).body).toEqual(aVault);
    expect((await t.request('GET', `${VAULTS}/${aStaging.id}`, { key: a.key })).body).toEqual(aStaging);
    // B deleting its "prod" leaves A's "prod" alone.
    expect((await t.request('DELETE', `${VAULTS}/${res.body.id}`, { key: b.key })).status).toBe(204);
    expect((await t.request('GET', `${VAULTS}/${aVault.id}`, { key: a.key })).body).toEqual(aVault);
  });

  it("does not let org B's idempotency key replay org A's vault", async () => {
    const a = await t.newOrg();
    const b = await t.newOrg();
    const body = createBody('same', t.fixture.token());
    const fromA = await t.request('POST', VAULTS, { key: a.key, body, headers: { 'idempotency-key': 'shared-key' } });
    const fromB = await t.request('POST', VAULTS, { key: b.key, body, headers: { 'idempotency-key': 'shared-key' } });
    expect(fromA.status).toBe(201);
    expect(fromB.status).toBe(201);
    expect(fromB.body.org_id).toBe(b.orgId);
    expect(fromB.text).not.toContain(fromA.body.id);
  });
});
