// Trusted-gateway mode (docs/api.md, "Authentication"): the org comes from X-User-Org instead
// of an API key. Off by default, unreachable when off, and impossible to switch on by one variable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, TRUSTED_GATEWAY_ACK } from '../src/config.js';
import { describeDialects, startTestServer, type TestServer } from './helpers/server.js';
import { createBody, createVault, uniqueName, VAULTS } from './helpers/vaults.js';

const GATEWAY_ENV = { SESAME_AUTH_MODE: 'trusted-gateway', SESAME_TRUSTED_GATEWAY_ACK: TRUSTED_GATEWAY_ACK };
const AUTH_REQUIRED = { detail: 'Authentication required' };

describe('trusted-gateway configuration', () => {
  const refused = (env: Record<string, string>) => () => loadConfig(env);

  it('is off by default, and an acknowledgement alone does not switch it on', () => {
    expect(loadConfig({}).authMode).toBe('api-key');
    expect(loadConfig({ SESAME_TRUSTED_GATEWAY_ACK: TRUSTED_GATEWAY_ACK }).authMode).toBe('api-key');
    expect(loadConfig(GATEWAY_ENV).authMode).toBe('trusted-gateway');
  });

  it('needs the exact acknowledgement, a known mode, and an explicit opt-in off loopback', () => {
    expect(refused({ SESAME_AUTH_MODE: 'trusted-gateway' })).toThrow(ConfigError);
    expect(refused({ SESAME_AUTH_MODE: 'trusted-gateway', SESAME_TRUSTED_GATEWAY_ACK: 'yes' })).toThrow(/SESAME_TRUSTED_GATEWAY_ACK=/);
    expect(refused({ SESAME_AUTH_MODE: 'gateway' })).toThrow(/must be api-key \(default\) or trusted-gateway/);
    expect(refused({ ...GATEWAY_ENV, HOST: '0.0.0.0' })).toThrow(/SESAME_TRUSTED_GATEWAY_ALLOW_NON_LOOPBACK=true/);
    expect(refused({ ...GATEWAY_ENV, HOST: '10.1.2.3', SESAME_TRUSTED_GATEWAY_ALLOW_NON_LOOPBACK: '1' })).toThrow(ConfigError);
    // TLS does not replace the opt-in: it encrypts, it does not tell the gateway from other clients.
    expect(refused({ ...GATEWAY_ENV, HOST: '0.0.0.0', TLS_CERT_FILE: '/c', TLS_KEY_FILE: '/k' })).toThrow(ConfigError);
    expect(loadConfig({ ...GATEWAY_ENV, HOST: '0.0.0.0', SESAME_TRUSTED_GATEWAY_ALLOW_NON_LOOPBACK: 'true' }).authMode).toBe(
      'trusted-gateway',
    );
    expect(loadConfig({ ...GATEWAY_ENV, HOST: '::1' }).authMode).toBe('trusted-gateway');
  });
});

describeDialects('X-User-Org when the mode is off (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ dialect });
  });
  afterAll(() => t?.close());

  it('is not a credential: without an API key the answer is 401', async () => {
    const { orgId } = await t.newOrg();
    for (const path of [VAULTS, `${VAULTS}/00000000-0000-4000-8000-000000000000`]) {
      const answer = await t.request('GET', path, { headers: { 'x-user-org': orgId } });
      expect([answer.status, answer.body, answer.headers.get('www-authenticate')]).toEqual([401, AUTH_REQUIRED, 'Bearer']);
    }
    expect((await t.request('GET', VAULTS, { headers: { 'x-user-org': 'not-a-uuid' } })).status).toBe(401);
  });

  it('does not move a key to another org: a key of org A with X-User-Org of org B acts as A', async () => {
    const a = await t.newOrg();
    const b = await t.newOrg();
    const { vault: ofB } = await createVault(t, b.key);
    const asA = { key: a.key, headers: { 'x-user-org': b.orgId } };
    const created = await t.request('POST', VAULTS, { ...asA, body: createBody(uniqueName(), t.fixture.token()) });
    expect(created.status).toBe(201);
    expect(created.body.org_id).toBe(a.orgId);
    const listed = await t.request('GET', VAULTS, asA);
    expect(listed.body.vaults.map((v: { id: string }) => v.id)).toEqual([created.body.id]);
    expect((await t.request('GET', `${VAULTS}/${ofB.id}`, asA)).status).toBe(404);
    expect((await t.request('GET', VAULTS, { key: a.key, headers: { 'x-user-org': 'not-a-uuid' } })).status).toBe(200);
  });
});

describeDialects('trusted-gateway mode (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ dialect, env: GATEWAY_ENV });
  });
  afterAll(() => t?.close());

  it('says so loudly at start-up', () => {
    expect(t.logs.some((line) => line.includes('"level":40') && line.includes('TRUSTED-GATEWAY MODE'))).toBe(true);
  });

  it('answers 401 without the header and 400 for a header that is not a UUID', async () => {
    const missing = await t.request('GET', VAULTS);
    expect([missing.status, missing.body, missing.headers.get('www-authenticate')]).toEqual([401, AUTH_REQUIRED, 'Bearer']);
    for (const bad of ['not-a-uuid', '7b1e2d3c-4f5a-4b7c-8d9e', '7b1e2d3c-4f5a-4b7c-8d9e-0f1a2b3c4d5eff', 'ops_secret']) {
      const answer = await t.request('GET', VAULTS, { headers: { 'x-user-org': bad } });
      expect([answer.status, answer.body], bad).toEqual([400, { detail: 'Invalid user or org ID' }]);
    }
    // The check comes before the body's: a bad header with a bad body is still the 400.
    const both = await t.request('POST', VAULTS, { headers: { 'x-user-org': 'nope' }, body: { name: '' } });
    expect(both.status).toBe(400);
  });

  it('ignores API keys: a valid key without the header is 401', async () => {
    const { key } = await t.newOrg();
    expect((await t.request('GET', VAULTS, { key })).status).toBe(401);
  });

  it('creates an org the first time the gateway names it, and keeps orgs apart', async () => {
    const orgA = crypto.randomUUID();
    const orgB = crypto.randomUUID();
    // Several first requests at once for the same new org: every one succeeds, one org row results.
    const firsts = await Promise.all(
      Array.from({ length: 5 }, () => t.request('GET', VAULTS, { headers: { 'x-user-org': orgA.toUpperCase() } })),
    );
    expect(firsts.map((r) => [r.status, r.body.total])).toEqual(Array.from({ length: 5 }, () => [200, 0]));
    const rows = await t.server.database.db.selectFrom('organizations').selectAll().where('id', '=', orgA).execute();
    expect(rows).toHaveLength(1);

    const created = await t.request('POST', VAULTS, {
      headers: { 'x-user-org': orgA.replace(/-/g, '') },
      body: createBody('gw', t.fixture.token()),
    });
    expect(created.status).toBe(201);
    expect(created.body.org_id).toBe(orgA);
    const asB = { headers: { 'x-user-org': orgB } };
    expect((await t.request('GET', `${VAULTS}/${created.body.id}`, asB)).status).toBe(404);
    expect((await t.request('GET', VAULTS, asB)).body.total).toBe(0);
    expect((await t.request('GET', `${VAULTS}/${created.body.id}/health`, { headers: { 'x-user-org': orgA } })).body).toEqual({
      ok: true,
      error: null,
    });
    expect(t.logs.some((line) => line.includes(`"org_id":"${orgA}"`))).toBe(true);
  });
});
