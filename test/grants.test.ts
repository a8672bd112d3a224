// Grants (docs/fill.md, "Grants"): mint, list, revoke, and what a grant cannot
// do, through the real server on both databases. What a grant can do (the fill routes) and its
// limits at fill time are in test/fill-grants.test.ts.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createGrantRepo } from '../src/modules/grants/grants.repo.js';
import { describeDialects, startTestServer, type TestResponse, type TestServer } from './helpers/server.js';
import { createVault, ISO_UTC, type Issue, MISSING_ID, UUID_LOWER, VAULTS } from './helpers/vaults.js';

const GRANT_PATTERN = /^sesame_gr_[A-Za-z0-9_-]{43}$/;

function issuesByLoc(response: TestResponse): Record<string, Issue> {
  expect(response.status).toBe(422);
  const out: Record<string, Issue> = {};
  for (const issue of response.body.detail) out[JSON.stringify(issue.loc)] = issue;
  return out;
}

describeDialects('grants (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ dialect });
  });
  afterAll(() => t?.close());

  const grants = (vaultId: string) => `${VAULTS}/${vaultId}/grants`;

  it('mints a grant shown once, with its limits', async () => {
    const { key, orgId } = await t.newOrg();
    const { vault } = await createVault(t, key);
    const before = Date.now();
    const res = await t.request('POST', grants(vault.id), {
      key,
      body: { expires_in: 600, allowed_domains: ['Example.COM.', '*.bücher.example', 'example.com'], max_fills: 3 },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const g = res.body;
    expect(Object.keys(g).sort()).toEqual(
      [
        'allowed_domains',
        'cdp_endpoint',
        'created_at',
        'expires_at',
        'fills_used',
        'grant',
        'id',
        'max_fills',
        'org_id',
        'revoked_at',
        'status',
        'target_id',
        'vault_id',
      ].sort(),
    );
    expect(g.grant).toMatch(GRANT_PATTERN);
    expect(g.id).toMatch(UUID_LOWER);
    expect(g).toMatchObject({ org_id: orgId, vault_id: vault.id, max_fills: 3, fills_used: 0, revoked_at: null, status: 'active' });
    expect(g).toMatchObject({ cdp_endpoint: null, target_id: null }); // unbound: its requests name their browser
    expect(g.allowed_domains).toEqual(['example.com', 'xn--bcher-kva.example']);
    expect(g.created_at).toMatch(ISO_UTC);
    expect(Date.parse(g.expires_at) - Date.parse(g.created_at)).toBe(600_000);
    expect(Date.parse(g.created_at)).toBeGreaterThanOrEqual(before - 5);

    // Without limits: any domain, any number of fills.
    const open = await t.request('POST', grants(vault.id), { key, body: { expires_in: 60 } });
    expect(open.status).toBe(201);
    expect(open.body).toMatchObject({ allowed_domains: null, max_fills: null });
    expect(open.body.grant).not.toBe(g.grant);

    // The plaintext never appears again: not in the list, not in the database's grant rows.
    const list = await t.request('GET', grants(vault.id), { key });
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(g.grant);
    expect(list.text).not.toContain(g.grant.slice('sesame_gr_'.length));
    expect(list.body.grants.every((row: Record<string, unknown>) => !('grant' in row))).toBe(true);
    for (const line of t.logs) expect(line).not.toContain(g.grant.slice(10));
    const rows = await t.server.database.db.selectFrom('grants').selectAll().where('vault_id', '=', vault.id).execute();
    expect(rows).toHaveLength(2);
    expect(JSON.stringify(rows)).not.toContain(g.grant.slice(10));
    expect(rows.find((row) => row.id === g.id)?.token_hash).toBe(createHash('sha256').update(g.grant).digest('hex'));
  });

  it('accepts expiries from 60 seconds to 24 hours and refuses anything else', async () => {
    const { key } = await t.newOrg();
    const { vault } = await createVault(t, key);
    for (const expires_in of [60, 86_400]) {
      expect((await t.request('POST', grants(vault.id), { key, body: { expires_in } })).status).toBe(201);
    }
    const cases: [unknown, string][] = [
      [59, 'greater_than_equal'],
      [86_401, 'less_than_equal'],
      [600.5, 'int_type'],
      ['600', 'int_parsing'],
      [null, 'int_type'],
    ];
    for (const [expires_in, type] of cases) {
      const issues = issuesByLoc(await t.request('POST', grants(vault.id), { key, body: { expires_in } }));
      expect(issues['["body","expires_in"]']?.type).toBe(type);
    }
    expect(issuesByLoc(await t.request('POST', grants(vault.id), { key, body: {} }))['["body","expires_in"]']?.type).toBe('missing');
  });

  it('refuses allowed domains that are not hosts or are public suffixes, listing each', async () => {
    const { key } = await t.newOrg();
    const { vault } = await createVault(t, key);
    const res = await t.request('POST', grants(vault.id), {
      key,
      body: {
        expires_in: 600,
        allowed_domains: ['https://example.com', 'example.com/login', 'example.com:443', 'com', 'co.uk', 'github.io', 'ok.example'],
      },
    });
    const issues = issuesByLoc(res);
    expect(Object.keys(issues)).toHaveLength(6);
    for (const i of [0, 1, 2]) expect(issues[`["body","allowed_domains",${i}]`]?.msg).toMatch(/host name/);
    for (const i of [3, 4, 5]) expect(issues[`["body","allowed_domains",${i}]`]?.msg).toMatch(/public suffix/);
    expect(issues['["body","allowed_domains",6]']).toBeUndefined();
    const empty = issuesByLoc(
      await t.request('POST', grants(vault.id), { key, body: { expires_in: 600, allowed_domains: ['ok.example', ''] } }),
    );
    expect(empty['["body","allowed_domains",1]']?.type).toBe('string_too_short');
    expect(issuesByLoc(await t.request('POST', grants(vault.id), { key, body: { expires_in: 600, allowed_domains: [] } }))).toHaveProperty(
      '["body","allowed_domains"]',
    );
    // Nothing was minted.
    expect((await t.request('GET', grants(vault.id), { key })).body.total).toBe(0);
  });

  it('binds a grant to a browser the allow-list admits (and optionally one page), shown in the listing', async () => {
    const { key } = await t.newOrg();
    const { vault } = await createVault(t, key);
    const bound = await t.request('POST', grants(vault.id), {
      key,
      body: { expires_in: 600, cdp_endpoint: 'http://127.0.0.1:9222', target_id: 'A1B2C3D4E5F60718293A4B5C6D7E8F90' },
    });
    expect(bound.status).toBe(201);
    expect(bound.body).toMatchObject({ cdp_endpoint: 'http://127.0.0.1:9222', target_id: 'A1B2C3D4E5F60718293A4B5C6D7E8F90' });
    const browserOnly = await t.request('POST', grants(vault.id), {
      key,
      body: { expires_in: 600, cdp_endpoint: 'ws://localhost:9333/devtools/browser/x' },
    });
    expect(browserOnly.body).toMatchObject({ cdp_endpoint: 'ws://localhost:9333/devtools/browser/x', target_id: null });
    const listed = (await t.request('GET', grants(vault.id), { key })).body.grants;
    expect(listed.map((g: Record<string, unknown>) => [g.id, g.cdp_endpoint, g.target_id])).toEqual([
      [browserOnly.body.id, 'ws://localhost:9333/devtools/browser/x', null],
      [bound.body.id, 'http://127.0.0.1:9222', 'A1B2C3D4E5F60718293A4B5C6D7E8F90'],
    ]);

    // Checked before anything is minted, at the field it is about (SESAME_CDP_ALLOW defaults to loopback).
    const outside = issuesByLoc(
      await t.request('POST', grants(vault.id), { key, body: { expires_in: 600, cdp_endpoint: 'http://10.1.2.3:9222' } }),
    );
    expect(outside['["body","cdp_endpoint"]']).toEqual({
      type: 'value_error',
      loc: ['body', 'cdp_endpoint'],
      msg: 'Value error, cdp_endpoint is not allowed by this server (SESAME_CDP_ALLOW)',
      input: 'http://10.1.2.3:9222',
    });
    const credentials = issuesByLoc(
      await t.request('POST', grants(vault.id), { key, body: { expires_in: 600, cdp_endpoint: 'http://user:pw@127.0.0.1:9222' } }),
    );
    expect(credentials['["body","cdp_endpoint"]']?.type).toBe('value_error');
    const pageOnly = issuesByLoc(await t.request('POST', grants(vault.id), { key, body: { expires_in: 600, target_id: 'A1B2' } }));
    expect(pageOnly['["body","target_id"]']).toMatchObject({ type: 'value_error', input: 'A1B2' });
    const shapes = issuesByLoc(
      await t.request('POST', grants(vault.id), { key, body: { expires_in: 600, cdp_endpoint: 'file:///etc', target_id: 'a b' } }),
    );
    expect(shapes['["body","cdp_endpoint"]']?.msg).toBe('Value error, cdp_endpoint must be an http://, https://, ws:// or wss:// URL');
    expect(shapes['["body","target_id"]']?.msg).toBe('Value error, target_id must be a DevTools target id');
    expect((await t.request('GET', grants(vault.id), { key })).body.total).toBe(2);
  });

  it('refuses unknown keys, so a misspelt limit never mints an unlimited grant', async () => {
    const { key } = await t.newOrg();
    const { vault } = await createVault(t, key);
    const res = await t.request('POST', grants(vault.id), { key, body: { expires_in: 600, allowed_domain: ['example.com'], max_fill: 1 } });
    const issues = issuesByLoc(res);
    expect(issues['["body","allowed_domain"]']).toMatchObject({ type: 'extra_forbidden', msg: 'Extra inputs are not permitted' });
    expect(issues['["body","max_fill"]']?.type).toBe('extra_forbidden');
    for (const max_fills of [0, -1, 1.5]) {
      expect(issuesByLoc(await t.request('POST', grants(vault.id), { key, body: { expires_in: 600, max_fills } }))).toHaveProperty(
        '["body","max_fills"]',
      );
    }
  });

  it("is 404 for a missing vault or another org's vault, on every grant route", async () => {
    const a = await t.newOrg();
    const b = await t.newOrg();
    const { vault } = await createVault(t, a.key);
    const minted = await t.request('POST', grants(vault.id), { key: a.key, body: { expires_in: 600 } });
    for (const id of [vault.id, MISSING_ID]) {
      expect((await t.request('POST', grants(id), { key: b.key, body: { expires_in: 600 } })).status).toBe(404);
      expect((await t.request('GET', grants(id), { key: b.key })).status).toBe(404);
      expect((await t.request('DELETE', `${grants(id)}/${minted.body.id}`, { key: b.key })).status).toBe(404);
    }
    expect((await t.request('GET', grants(vault.id), { key: a.key })).body.grants[0].status).toBe('active');
    // A grant id of another vault of the same org is not found under this one.
    const { vault: other } = await createVault(t, a.key);
    expect((await t.request('DELETE', `${grants(other.id)}/${minted.body.id}`, { key: a.key })).status).toBe(404);
    expect((await t.request('DELETE', `${grants(vault.id)}/${MISSING_ID}`, { key: a.key })).status).toBe(404);
    expect((await t.request('DELETE', `${grants(vault.id)}/not-a-uuid`, { key: a.key })).status).toBe(422);
  });

  it('lists newest first with paging, and revokes (idempotently)', async () => {
    const { key } = await t.newOrg();
    const { vault } = await createVault(t, key);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await t.request('POST', grants(vault.id), { key, body: { expires_in: 600 + i } })).body.id);
      await new Promise((r) => setTimeout(r, 5));
    }
    const page = await t.request('GET', `${grants(vault.id)}?limit=2&offset=0`, { key });
    expect(page.body).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(page.body.grants.map((g: { id: string }) => g.id)).toEqual([ids[2], ids[1]]);
    const rest = await t.request('GET', `${grants(vault.id)}?limit=2&offset=2`, { key });
    expect(rest.body.grants.map((g: { id: string }) => g.id)).toEqual([ids[0]]);

    const revoked = await t.request('DELETE', `${grants(vault.id)}/${ids[1]}`, { key });
    expect(revoked.status).toBe(204);
    expect(revoked.text).toBe('');
    const after = (await t.request('GET', grants(vault.id), { key })).body.grants.find((g: { id: string }) => g.id === ids[1]);
    expect(after.status).toBe('revoked');
    expect(after.revoked_at).toMatch(ISO_UTC);
    expect((await t.request('DELETE', `${grants(vault.id)}/${ids[1]}`, { key })).status).toBe(204);
    const again = (await t.request('GET', grants(vault.id), { key })).body.grants.find((g: { id: string }) => g.id === ids[1]);
    expect(again.revoked_at).toBe(after.revoked_at);
  });

  it('reserves fills with one conditional update: 20 concurrent reservations, max_fills 5, exactly 5 succeed', async () => {
    const { key, orgId } = await t.newOrg();
    const { vault } = await createVault(t, key);
    const grant = (await t.request('POST', grants(vault.id), { key, body: { expires_in: 600, max_fills: 5 } })).body;
    const repo = createGrantRepo(t.server.database.db);
    const now = new Date().toISOString();
    const results = await Promise.all(Array.from({ length: 20 }, () => repo.reserveFill(orgId, grant.id, now)));
    expect(results.filter(Boolean)).toHaveLength(5);
    // Another org cannot spend it; a revoked or expired grant reserves nothing.
    const other = await t.newOrg();
    await repo.releaseFill(orgId, grant.id);
    expect(await repo.reserveFill(other.orgId, grant.id, now)).toBe(false);
    expect(await repo.reserveFill(orgId, grant.id, new Date(Date.now() + 3_600_000).toISOString())).toBe(false);
    expect(await repo.reserveFill(orgId, grant.id, now)).toBe(true);
    const listed = (await t.request('GET', grants(vault.id), { key })).body.grants[0];
    expect(listed).toMatchObject({ fills_used: 5, status: 'exhausted' });
  });

  it('authenticates nothing but the fill routes: every management route answers 401 to a grant', async () => {
    const { key } = await t.newOrg();
    const { vault } = await createVault(t, key);
    const grant = (await t.request('POST', grants(vault.id), { key, body: { expires_in: 600 } })).body;
    const routes: [string, string, unknown?][] = [
      ['GET', VAULTS],
      ['POST', VAULTS, { name: 'x', provider_config: { op_vault_id: 'v' }, token: 'ops_x' }],
      ['GET', `${VAULTS}/${vault.id}`],
      ['PATCH', `${VAULTS}/${vault.id}`, { name: 'hijacked' }],
      ['PUT', `${VAULTS}/${vault.id}/token`, { token: 'ops_x' }],
      ['GET', `${VAULTS}/${vault.id}/health`],
      ['DELETE', `${VAULTS}/${vault.id}`],
      ['GET', grants(vault.id)],
      ['POST', grants(vault.id), { expires_in: 600 }],
      ['DELETE', `${grants(vault.id)}/${grant.id}`],
      ['GET', `${VAULTS}/${vault.id}/events`],
    ];
    const unauthenticated = await t.request('GET', VAULTS);
    for (const [method, path, body] of routes) {
      const res = await t.request(method, path, { key: grant.grant, body });
      expect({ route: `${method} ${path}`, status: res.status, text: res.text }).toEqual({
        route: `${method} ${path}`,
        status: 401,
        text: unauthenticated.text,
      });
    }
    // Nothing changed.
    const stillThere = await t.request('GET', `${VAULTS}/${vault.id}`, { key });
    expect(stillThere.body.name).toBe(vault.name);
    expect((await t.request('GET', grants(vault.id), { key })).body.grants[0].status).toBe('active');
  });
});
