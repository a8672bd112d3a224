// A grant at work (docs/fill.md, "Grants"): it can list and fill on its own vault
// only, only on its allowed domains, only as many times as minted for, only until it expires or is
// revoked — each enforced in a real browser, on both databases (the fill count is one conditional
// UPDATE, so it holds under concurrency on either).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { scriptedAgent } from '../../src/demo/agent.js';
import { POSTGRES_AVAILABLE } from '../helpers/postgres.js';
import { describeDialects } from '../helpers/server.js';
import { createVault } from '../helpers/vaults.js';
import { type FillEnvironment, HOSTS, startFillEnvironment } from './harness.js';

let shared: FillEnvironment | undefined;
const environments: Record<string, FillEnvironment> = {};

beforeAll(async () => {
  shared = await startFillEnvironment({ dialect: 'sqlite' });
  environments.sqlite = shared;
  if (POSTGRES_AVAILABLE) environments.postgres = await startFillEnvironment({ dialect: 'postgres', reuse: shared });
});
afterAll(async () => {
  await environments.postgres?.close();
  await shared?.close();
});

describeDialects('grants at fill time (%s)', (dialect) => {
  const env = () => environments[dialect] as FillEnvironment;

  async function mint(body: Record<string, unknown> = {}, vaultId = env().vaultId): Promise<{ id: string; grant: string }> {
    const res = await env().t.request('POST', `/api/v2/vaults/${vaultId}/grants`, { key: env().key, body: { expires_in: 600, ...body } });
    expect(res.status).toBe(201);
    return res.body;
  }

  function agentWith(credential: string, vaultId = env().vaultId) {
    return scriptedAgent({ sesameUrl: env().t.url, credential, vaultId, cdpEndpoint: env().chrome.cdpEndpoint, page: env().page });
  }

  const open = (host: string, path = '/login') => env().page.goto(env().site.url(host, path));
  const username = () => env().page.locator('#username');
  const password = () => env().page.locator('#password');

  it('signs in with a grant, recorded under the grant as actor', async () => {
    const grant = await mint();
    const agent = agentWith(grant.grant);
    await open(HOSTS.login);
    expect((await agent.listSecrets()).body.fields.map((f: { field: string }) => f.field)).toEqual(['username', 'password', 'totp', 'pin']);
    expect((await agent.fillAt(username(), 'username')).body.filled).toBe(true);
    expect((await agent.fillAt(password(), 'password')).body.filled).toBe(true);
    await agent.click(env().page.locator('#submit'));
    await expect.poll(() => env().page.locator('#result').textContent()).toBe('Signed in as login-user');

    const events = (await env().t.request('GET', `/api/v2/vaults/${env().vaultId}/events?limit=3`, { key: env().key })).body.events;
    expect(events.map((e: { action: string }) => e.action)).toEqual(['fill', 'fill', 'list_secrets']);
    for (const event of events) expect(event.actor).toEqual({ type: 'grant', id: grant.id });
    expect(events[0]).toMatchObject({
      field: 'password',
      item_id: env().accounts.login?.id,
      outcome: 'ok',
      reason: null,
      origin: `http://${HOSTS.login}:${env().site.port}`,
    });
    // The grant's use shows in its fill count.
    const listed = (await env().t.request('GET', `/api/v2/vaults/${env().vaultId}/grants`, { key: env().key })).body.grants;
    expect(listed.find((g: { id: string }) => g.id === grant.id).fills_used).toBe(2);
  });

  it("authenticates only on its own vault's fill routes", async () => {
    const { vault: other } = await createVault(env().t, env().key);
    const grant = await mint();
    const body = { cdp_endpoint: env().chrome.cdpEndpoint };
    const onOther = await env().t.request('POST', `/api/v2/vaults/${other.id}/list-secrets`, { key: grant.grant, body });
    expect(onOther.status).toBe(401);
    // Its own vault, in another spelling of the same UUID, is still its own.
    const upper = await env().t.request('POST', `/api/v2/vaults/${env().vaultId.toUpperCase()}/list-secrets`, { key: grant.grant, body });
    expect(upper.status).toBe(200);
  });

  it('stops authenticating at once when revoked, or when its vault is deleted', async () => {
    const grant = await mint();
    const agent = agentWith(grant.grant);
    await open(HOSTS.login);
    expect((await agent.listSecrets()).status).toBe(200);
    await env().t.request('DELETE', `/api/v2/vaults/${env().vaultId}/grants/${grant.id}`, { key: env().key });
    expect((await agent.listSecrets()).status).toBe(401);
    expect((await agent.fillAt(username(), 'username')).status).toBe(401);

    const { vault } = await createVault(env().t, env().key);
    const doomed = await mint({}, vault.id);
    const doomedAgent = agentWith(doomed.grant, vault.id);
    expect((await doomedAgent.listSecrets()).status).toBe(200);
    await env().t.request('DELETE', `/api/v2/vaults/${vault.id}`, { key: env().key });
    expect((await doomedAgent.listSecrets()).status).toBe(401);
  });

  it('refuses with grant_expired once expired, before touching the browser', async () => {
    const grant = await mint();
    const agent = agentWith(grant.grant);
    await open(HOSTS.login);
    expect((await agent.fillAt(username(), 'username')).body.filled).toBe(true);
    await username().fill('');
    await env()
      .t.server.database.db.updateTable('grants')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', grant.id)
      .execute();
    expect((await agent.fillAt(username(), 'username')).body).toEqual({
      filled: false,
      field: 'username',
      reason: 'grant_expired',
      detail: 'This grant has expired; ask for a new one.',
    });
    expect((await agent.listSecrets()).body).toMatchObject({ origin: null, fields: [], reason: 'grant_expired' });
    expect(await username().inputValue()).toBe('');
    const listed = (await env().t.request('GET', `/api/v2/vaults/${env().vaultId}/grants`, { key: env().key })).body.grants;
    expect(listed.find((g: { id: string }) => g.id === grant.id).status).toBe('expired');
  });

  it('fills only on its allowed domains and their subdomains', async () => {
    const grant = await mint({ allowed_domains: [HOSTS.login] });
    const agent = agentWith(grant.grant);
    for (const host of [HOSTS.login, HOSTS.deeper]) {
      await open(host);
      expect((await agent.listSecrets()).body.reason, host).toBeUndefined();
      expect((await agent.fillAt(username(), 'username')).body.filled, host).toBe(true);
    }
    for (const host of [HOSTS.parent, HOSTS.sibling]) {
      await open(host);
      expect((await agent.listSecrets()).body).toMatchObject({ fields: [], reason: 'domain_not_allowed' });
      expect((await agent.fillAt(username(), 'username')).body).toMatchObject({ filled: false, reason: 'domain_not_allowed' });
      expect(await username().inputValue()).toBe('');
    }
    // The frame decides: the allowed login page inside a parent-domain page is fine.
    await open(HOSTS.parent, '/frame/same');
    expect((await agent.fillAt(env().page.frameLocator('#frame').locator('#username'), 'username')).body.filled).toBe(true);
  });

  it('counts fills, not refusals, and stops at max_fills', async () => {
    const grant = await mint({ max_fills: 2 });
    const agent = agentWith(grant.grant);
    await open(HOSTS.login, '/text-password');
    expect((await agent.fillAt(password(), 'password')).body.reason).toBe('not_a_password_input');
    await open(HOSTS.login);
    expect((await agent.fillAt(username(), 'username')).body.filled).toBe(true);
    expect((await agent.fillAt(password(), 'password')).body.filled).toBe(true);
    await username().fill('');
    expect((await agent.fillAt(username(), 'username')).body).toEqual({
      filled: false,
      field: 'username',
      reason: 'grant_expired',
      detail: 'This grant has used all of its fills.',
    });
    expect(await username().inputValue()).toBe('');
    // Listing fills nothing, so it still works.
    expect((await agent.listSecrets()).body.fields.length).toBeGreaterThan(0);
    const listed = (await env().t.request('GET', `/api/v2/vaults/${env().vaultId}/grants`, { key: env().key })).body.grants;
    expect(listed.find((g: { id: string }) => g.id === grant.id)).toMatchObject({ fills_used: 2, status: 'exhausted' });
  });

  it('never exceeds max_fills under concurrent fills', async () => {
    const grant = await mint({ max_fills: 3 });
    const agent = agentWith(grant.grant);
    await open(HOSTS.login);
    const point = await agent.centre(username());
    const answers = await Promise.all(Array.from({ length: 8 }, () => agent.fillAtPoint(point, 'username')));
    expect(answers.filter((a) => a.body.filled === true)).toHaveLength(3);
    expect(answers.filter((a) => a.body.reason === 'grant_expired')).toHaveLength(5);
  });
  it('bound to the browser: fills there without naming it, refuses any other browser or page, and says so in the trail', async () => {
    const endpoint = env().chrome.cdpEndpoint;
    const grant = await mint({ cdp_endpoint: endpoint });
    await open(HOSTS.login);
    const call = (action: string, body: Record<string, unknown>) =>
      env().t.request('POST', `/api/v2/vaults/${env().vaultId}/${action}`, { key: grant.grant, body });
    const listed = await call('list-secrets', {});
    expect(listed.status).toBe(200);
    expect(listed.body.fields.map((f: { field: string }) => f.field)).toContain('password');
    const point = await agentWith(grant.grant).centre(username());
    expect((await call('fill', { ...point, field: 'username' })).body).toEqual({ filled: true, field: 'username' });
    expect(await username().inputValue()).toBe('login-user');
    // Repeating the bound endpoint (in another spelling of the same URL) is fine.
    expect((await call('list-secrets', { cdp_endpoint: `${endpoint.toUpperCase().replace('HTTP:', 'http:')}/` })).status).toBe(200);

    await username().fill('');
    const elsewhere = await call('fill', { ...point, field: 'username', cdp_endpoint: 'http://127.0.0.1:9' });
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body.detail).toEqual([
      {
        type: 'value_error',
        loc: ['body', 'cdp_endpoint'],
        msg: 'Value error, this grant is bound to another browser: leave cdp_endpoint out, or send the one the grant was minted with',
        input: 'http://127.0.0.1:9',
      },
    ]);
    expect(await username().inputValue()).toBe('');
    const events = (await env().t.request('GET', `/api/v2/vaults/${env().vaultId}/events?limit=1`, { key: env().key })).body.events;
    expect(events[0]).toMatchObject({
      action: 'fill',
      actor: { type: 'grant', id: grant.id },
      outcome: 'failed',
      reason: 'cdp_endpoint_mismatch',
    });

    // Bound to one page: another page of the same browser is refused too.
    const page = await targetIdOf();
    const pageGrant = await mint({ cdp_endpoint: endpoint, target_id: page });
    const onPage = (body: Record<string, unknown>) =>
      env().t.request('POST', `/api/v2/vaults/${env().vaultId}/list-secrets`, { key: pageGrant.grant, body });
    expect((await onPage({})).status).toBe(200);
    expect((await onPage({ target_id: page })).status).toBe(200);
    const otherPage = await onPage({ target_id: 'B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0' });
    expect(otherPage.status).toBe(422);
    expect(otherPage.body.detail[0]).toMatchObject({ loc: ['body', 'target_id'], input: 'B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0' });
  });

  it('unbound, and for API keys, cdp_endpoint stays required with the same answer as before', async () => {
    const grant = await mint();
    for (const key of [grant.grant, env().key]) {
      const res = await env().t.request('POST', `/api/v2/vaults/${env().vaultId}/fill`, { key, body: { x: 1, y: 'a', field: 'username' } });
      expect(res.status).toBe(422);
      expect(res.body.detail).toEqual([
        { type: 'missing', loc: ['body', 'cdp_endpoint'], msg: 'Field required', input: { x: 1, y: 'a', field: 'username' } },
        { type: 'number_type', loc: ['body', 'y'], msg: 'Input should be a valid number', input: 'a' },
      ]);
    }
  });

  async function targetIdOf(): Promise<string> {
    const session = await env().page.context().newCDPSession(env().page);
    const { targetInfo } = (await session.send('Target.getTargetInfo')) as { targetInfo: { targetId: string } };
    await session.detach();
    return targetInfo.targetId;
  }
});
