// Races on the unique (org, name): exactly one winner, the others 409, never a 5xx
// (docs/api.md, create: "also when two creates with the same name race").
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDialects, startTestServer, type TestResponse, type TestServer } from './helpers/server.js';
import { createBody, createVault, listTotal, VAULTS } from './helpers/vaults.js';

const N = 20;

function summary(responses: TestResponse[]): string {
  return responses.map((r) => `${r.status} ${r.text}`).join('\n');
}

describeDialects('vaults concurrency (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ dialect });
  });
  afterAll(() => t?.close());

  it(`${N} parallel creates of one name: one 201, ${N - 1} 409s`, async () => {
    const { key } = await t.newOrg();
    const tokens = Array.from({ length: N }, () => t.fixture.token());
    const responses = await Promise.all(tokens.map((token) => t.request('POST', VAULTS, { key, body: createBody('contested', token) })));
    const created = responses.filter((r) => r.status === 201);
    const conflicts = responses.filter((r) => r.status === 409);
    expect(created, summary(responses)).toHaveLength(1);
    expect(conflicts, summary(responses)).toHaveLength(N - 1);
    for (const r of conflicts) expect(r.body).toEqual({ detail: "A vault named 'contested' already exists in this organization" });
    const list = await t.request('GET', VAULTS, { key });
    expect(list.body.total).toBe(1);
    expect(list.body.vaults).toEqual([created[0]?.body]);
  });

  it('parallel creates of one name in different orgs all succeed', async () => {
    const orgs = await Promise.all(Array.from({ length: 5 }, () => t.newOrg()));
    const responses = await Promise.all(
      orgs.map((org) => t.request('POST', VAULTS, { key: org.key, body: createBody('contested', t.fixture.token()) })),
    );
    for (const r of responses) expect(r.status, summary(responses)).toBe(201);
    for (const org of orgs) expect(await listTotal(t, org.key)).toBe(1);
  });

  it(`parallel creates of ${N} distinct names all succeed`, async () => {
    const { key } = await t.newOrg();
    const responses = await Promise.all(
      Array.from({ length: N }, (_, i) => t.request('POST', VAULTS, { key, body: createBody(`v${i}`, t.fixture.token()) })),
    );
    for (const r of responses) expect(r.status, summary(responses)).toBe(201);
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(N);
    expect(await listTotal(t, key)).toBe(N);
  });

  it(`${N} parallel renames of different vaults to one name: one 200, ${N - 1} 409s`, async () => {
    const { key } = await t.newOrg();
    const vaults = [];
    for (let i = 0; i < N; i++) vaults.push((await createVault(t, key, { name: `before-${i}` })).vault);
    const responses = await Promise.all(vaults.map((v) => t.request('PATCH', `${VAULTS}/${v.id}`, { key, body: { name: 'target' } })));
    const renamed = responses.filter((r) => r.status === 200);
    const conflicts = responses.filter((r) => r.status === 409);
    expect(renamed, summary(responses)).toHaveLength(1);
    expect(conflicts, summary(responses)).toHaveLength(N - 1);
    for (const r of conflicts) expect(r.body).toEqual({ detail: "A vault named 'target' already exists in this organization" });
    const list = await t.request('GET', `${VAULTS}?limit=1000`, { key });
    expect(list.body.total).toBe(N);
    const names = list.body.vaults.map((v: { name: string }) => v.name);
    expect(names.filter((n: string) => n === 'target')).toHaveLength(1);
    // The losers kept their names.
    const winner = renamed[0]?.body.id;
    for (const v of list.body.vaults) if (v.id !== winner) expect(v.name).toMatch(/^before-\d+$/);
  });

  it('a create and renames racing for one name: exactly one holds it', async () => {
    const { key } = await t.newOrg();
    const vaults = [];
    for (let i = 0; i < 5; i++) vaults.push((await createVault(t, key, { name: `r-${i}` })).vault);
    const requests = [
      ...vaults.map((v) => t.request('PATCH', `${VAULTS}/${v.id}`, { key, body: { name: 'hot' } })),
      ...Array.from({ length: 5 }, () => t.request('POST', VAULTS, { key, body: createBody('hot', t.fixture.token()) })),
    ];
    const responses = await Promise.all(requests);
    const winners = responses.filter((r) => r.status === 200 || r.status === 201);
    const conflicts = responses.filter((r) => r.status === 409);
    expect(winners, summary(responses)).toHaveLength(1);
    expect(conflicts, summary(responses)).toHaveLength(responses.length - 1);
    const list = await t.request('GET', `${VAULTS}?limit=1000`, { key });
    expect(list.body.vaults.filter((v: { name: string }) => v.name === 'hot')).toHaveLength(1);
  });

  it('parallel deletes of one vault: one 204, the others 404', async () => {
    const { key } = await t.newOrg();
    const { vault } = await createVault(t, key);
    const responses = await Promise.all(Array.from({ length: 10 }, () => t.request('DELETE', `${VAULTS}/${vault.id}`, { key })));
    expect(
      responses.filter((r) => r.status === 204),
      summary(responses),
    ).toHaveLength(1);
    expect(
      responses.filter((r) => r.status === 404),
      summary(responses),
    ).toHaveLength(9);
    expect(await listTotal(t, key)).toBe(0);
  });

  it('parallel rotations and renames of one vault never 5xx and leave one of the rotated tokens stored', async () => {
    const { key } = await t.newOrg();
    const { vault, token: original } = await createVault(t, key);
    const tokens = Array.from({ length: 8 }, () => t.fixture.token());
    const responses = await Promise.all([
      ...tokens.map((token) => t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token } })),
      ...Array.from({ length: 4 }, (_, i) => t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: `n${i}` } })),
    ]);
    for (const r of responses) {
      expect(r.status, summary(responses)).toBeLessThan(500);
      // A lost race is "retry", never a refusal of valid input.
      expect([200, 204, 409], summary(responses)).toContain(r.status);
    }
    const rotated = tokens.filter((_, i) => responses[i]?.status === 204);
    expect(rotated.length).toBeGreaterThanOrEqual(1);
    // The stored token is one that was rotated in: revoking the original does not break health,
    // revoking every rotated-in token does.
    t.fixture.setState(original, 'revoked');
    expect((await t.request('GET', `${VAULTS}/${vault.id}/health`, { key })).body).toEqual({ ok: true, error: null });
    for (const token of rotated) t.fixture.setState(token, 'revoked');
    expect((await t.request('GET', `${VAULTS}/${vault.id}/health`, { key })).body).toEqual({
      ok: false,
      error: '1Password: invalid service account token',
    });
  });
});
