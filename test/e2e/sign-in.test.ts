// Signing an agent in, end to end: real Chromium, a local site on several *.localhost hosts, the
// real server connecting over CDP, and a scripted agent that only sees coordinates and answers.
// Each test asserts what the site accepted (or the refusal reason); the last one checks that no
// secret reached an answer, a log line or the audit trail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScriptedAgent, scriptedAgent } from '../../src/demo/agent.js';
import { parseTotp } from '../../src/modules/fill/totp.js';
import { createVault } from '../helpers/vaults.js';
import { type FillEnvironment, HOSTS, startFillEnvironment } from './harness.js';

describe('signing in with Chromium', () => {
  let env: FillEnvironment;
  let agent: ScriptedAgent;
  const codes: string[] = [];

  beforeAll(async () => {
    env = await startFillEnvironment();
    agent = scriptedAgent({
      sesameUrl: env.t.url,
      credential: env.key,
      vaultId: env.vaultId,
      cdpEndpoint: env.chrome.cdpEndpoint,
      page: env.page,
    });
  });
  afterAll(() => env?.close());

  const open = (host: string, path: string) => env.page.goto(env.site.url(host, path));
  const $ = (selector: string) => env.page.locator(selector);
  const lastSignIn = () => env.site.signIns.at(-1);

  it('signs in on a plain login form, choosing the closest host', async () => {
    await open(HOSTS.login, '/login');
    const listed = await agent.listSecrets();
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({
      origin: `http://${HOSTS.login}:${env.site.port}`,
      fields: [
        { field: 'username', kind: 'text', ambiguous: false },
        { field: 'password', kind: 'concealed', ambiguous: false },
        { field: 'totp', kind: 'totp', ambiguous: false },
        { field: 'pin', kind: 'concealed', ambiguous: false },
      ],
    });
    expect(await agent.fillAt($('#username'), 'username')).toEqual({ status: 200, body: { filled: true, field: 'username' } });
    expect(await agent.fillAt($('#password'), 'password')).toEqual({ status: 200, body: { filled: true, field: 'password' } });
    await agent.click($('#submit'));
    await expect.poll(() => $('#result').textContent()).toBe('Signed in as login-user');
    expect(lastSignIn()).toEqual({ host: HOSTS.login, page: 'login', username: 'login-user' });
  });

  it('fills a React-style controlled form through input events', async () => {
    await open(HOSTS.login, '/react');
    expect((await agent.fillAt($('#username'), 'username')).body.filled).toBe(true);
    expect((await agent.fillAt($('#password'), 'password')).body.filled).toBe(true);
    // The values survive the form's re-renders, which wipe anything set without input events.
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await $('#username').inputValue()).toBe('login-user');
    await agent.click($('#submit'));
    await expect.poll(() => $('#result').textContent()).toBe('Signed in as login-user');
  });

  it('replaces what the field held before', async () => {
    await open(HOSTS.login, '/login');
    await $('#username').fill('someone-else');
    expect((await agent.fillAt($('#username'), 'username')).body.filled).toBe(true);
    expect(await $('#username').inputValue()).toBe('login-user');
  });

  it('keeps to one account across a two-step login (username, then password on the next page)', async () => {
    // Two items tie on shared.app.localhost; the agent picks the older one by its username.
    await open('shared.app.localhost', '/two-step');
    const listed = await agent.listSecrets();
    expect(listed.body.fields).toContainEqual({ field: 'password', kind: 'concealed', ambiguous: true, tied_count: 2 });
    expect((await agent.fillAt($('#username'), 'username', 'TIE-OLDER')).body.filled).toBe(true);
    await agent.click($('#submit'));
    await $('#password').waitFor();
    // No hint now: the item that supplied the username for this origin supplies the password.
    expect((await agent.fillAt($('#password'), 'password')).body.filled).toBe(true);
    await agent.click($('#submit'));
    await expect.poll(() => $('#result').textContent()).toBe('Signed in as tie-older');
    expect(lastSignIn()).toMatchObject({ page: 'two-step', username: 'tie-older' });
  });

  it('without a hint, a tie goes to the most recently updated item; a hint naming no tied item is no_match', async () => {
    const context = await env.browser.newContext(); // a new browser session remembers nothing
    try {
      const page = await context.newPage();
      await page.goto(env.site.url('shared.app.localhost', '/login'));
      const targetId = await targetIdOf(page);
      const other = scriptedAgent({ ...agentOptions(), page, targetId });
      expect((await other.fillAt(page.locator('#username'), 'username')).body.filled).toBe(true);
      expect(await page.locator('#username').inputValue()).toBe('tie-newer');
      const refused = await other.fillAt(page.locator('#username'), 'username', 'parent-user');
      expect(refused.body).toMatchObject({ filled: false, reason: 'no_match' });
    } finally {
      await context.close();
    }
  });

  it('types the current TOTP code, following the otpauth parameters, and the site verifies it', async () => {
    await open(HOSTS.login, '/totp');
    expect((await agent.fillAt($('#username'), 'username')).body.filled).toBe(true);
    expect((await agent.fillAt($('#password'), 'password')).body.filled).toBe(true);
    await agent.click($('#submit'));
    await $('#code').waitFor();
    expect(await agent.fillAt($('#code'), 'totp')).toEqual({ status: 200, body: { filled: true, field: 'totp' } });
    const code = await $('#code').inputValue();
    codes.push(code);
    expect(code).toMatch(/^\d{8}$/); // digits=8 in the item's URI
    expect(parseTotp(env.accounts.login?.totp ?? '').validate({ token: code, window: 0 })).toBe(0);
    await agent.click($('#submit'));
    await expect.poll(() => $('#result').textContent()).toBe('Signed in as login-user');
    expect(lastSignIn()).toMatchObject({ page: 'totp', username: 'login-user' });
  });

  it('fills a login form in a same-site iframe, matched by the frame URL', async () => {
    await open(HOSTS.parent, '/frame/same');
    const frame = env.page.frameLocator('#frame');
    // The top page is app.localhost, whose item is the parent one; the frame is login.app.localhost.
    expect((await agent.fillAt(frame.locator('#username'), 'username')).body.filled).toBe(true);
    expect((await agent.fillAt(frame.locator('#password'), 'password')).body.filled).toBe(true);
    await agent.click(frame.locator('#submit'));
    await expect.poll(() => frame.locator('#result').textContent()).toBe('Signed in as login-user');
  });

  it('refuses a cross-site iframe, and the real login page framed by another site', async () => {
    await open(HOSTS.parent, '/frame/cross');
    const cross = await agent.fillAt(env.page.frameLocator('#frame').locator('#username'), 'username');
    expect(cross.body).toMatchObject({ filled: false, field: 'username', reason: 'cross_site_frame' });
    await open(HOSTS.evil, '/frame/hostile');
    const hostile = await agent.fillAt(env.page.frameLocator('#frame').locator('#password'), 'password');
    expect(hostile.body).toMatchObject({ filled: false, reason: 'cross_site_frame' });
    expect(await env.page.frameLocator('#frame').locator('#password').inputValue()).toBe('');
  });

  it('puts concealed values only into password inputs', async () => {
    await open(HOSTS.login, '/text-password');
    const refused = await agent.fillAt($('#password'), 'password');
    expect(refused.body).toEqual({
      filled: false,
      field: 'password',
      reason: 'not_a_password_input',
      detail: expect.any(String),
    });
    // A concealed custom field is held to the same rule; a text field is fine.
    expect((await agent.fillAt($('#username'), 'PIN')).body.reason).toBe('not_a_password_input');
    expect((await agent.fillAt($('#password'), 'username')).body.filled).toBe(true);
    expect(await $('#password').inputValue()).toBe('login-user');
  });

  it('refuses what is not an editable text field', async () => {
    await open(HOSTS.login, '/disabled');
    for (const selector of ['#disabled', '#readonly', '#checkbox', '#text']) {
      expect((await agent.fillAt($(selector), 'username')).body).toMatchObject({ filled: false, reason: 'not_editable' });
    }
    expect((await agent.fillAtPoint({ x: 5000, y: 5000 }, 'username')).body).toMatchObject({ filled: false, reason: 'not_editable' });
    expect((await agent.fillAt($('#notes'), 'username')).body.filled).toBe(true);
    expect(await $('#notes').inputValue()).toBe('login-user');
  });

  it('matches parent, exact, sibling and deeper hosts as the spec says', async () => {
    const usernameOn = async (host: string) => {
      await open(host, '/login');
      const answer = await agent.fillAt($('#username'), 'username');
      return answer.body.filled ? await $('#username').inputValue() : answer.body.reason;
    };
    expect(await usernameOn(HOSTS.parent)).toBe('parent-user');
    expect(await usernameOn(HOSTS.login)).toBe('login-user');
    // A sibling of login.app.localhost gets the parent's item, never login's.
    expect(await usernameOn(HOSTS.sibling)).toBe('parent-user');
    // A deeper subdomain gets its closest parent.
    expect(await usernameOn(HOSTS.deeper)).toBe('login-user');
    // ExactDomain: only that host and port; a subdomain of it falls back to the parent item.
    expect(await usernameOn(HOSTS.exact)).toBe('exact-user');
    expect(await usernameOn(`sub.${HOSTS.exact}`)).toBe('parent-user');
    // Another site: nothing.
    expect(await usernameOn(HOSTS.evil)).toBe('no_match');
    await open(HOSTS.evil, '/login');
    expect((await agent.listSecrets()).body).toEqual({ origin: `http://${HOSTS.evil}:${env.site.port}`, fields: [] });
  });

  it('refuses an insecure page, reading the URL from the browser', async () => {
    await open('insecure.test', '/login');
    expect((await agent.listSecrets()).body).toMatchObject({
      origin: `http://insecure.test:${env.site.port}`,
      fields: [],
      reason: 'insecure_page',
    });
    expect((await agent.fillAt($('#password'), 'password')).body).toMatchObject({ filled: false, reason: 'insecure_page' });
    expect(await $('#password').inputValue()).toBe('');
  });

  it('answers provider_unavailable when 1Password is down, or the stored token cannot be decrypted', async () => {
    await open(HOSTS.login, '/login');
    // A vault whose items Sesame has not listed lately (its own token: nothing in the brief cache).
    const { vault: cold } = await createVault(env.t, env.key);
    const coldAgent = scriptedAgent({ ...agentOptions(), vaultId: cold.id, page: env.page });
    const warmFields = (await agent.listSecrets()).body.fields;
    expect(warmFields.length).toBeGreaterThan(0);
    env.t.fixture.setFaults({ unavailable: true });
    try {
      expect((await coldAgent.listSecrets()).body).toMatchObject({ fields: [], reason: 'provider_unavailable' });
      expect((await coldAgent.fillAt($('#password'), 'password')).body).toMatchObject({
        filled: false,
        reason: 'provider_unavailable',
        detail: '1Password could not be reached; retry shortly.',
      });
      // A vault listed moments ago still lists from the brief cache, but a fill needs the value, which is never cached.
      expect((await agent.listSecrets()).body.fields).toEqual(warmFields);
      expect((await agent.fillAt($('#password'), 'password')).body).toMatchObject({
        filled: false,
        reason: 'provider_unavailable',
        detail: '1Password could not be reached; retry shortly.',
      });
      expect(await $('#password').inputValue()).toBe('');
    } finally {
      env.t.fixture.setFaults({});
    }
    const { vault } = await createVault(env.t, env.key);
    await env.t.server.database.db.updateTable('vaults').set({ token_ciphertext: 'AAAA' }).where('id', '=', vault.id).execute();
    const broken = scriptedAgent({ ...agentOptions(), vaultId: vault.id, page: env.page });
    expect((await broken.fillAt($('#password'), 'password')).body).toMatchObject({
      filled: false,
      reason: 'provider_unavailable',
      detail: "The vault's stored token cannot be decrypted; an administrator must rotate it.",
    });
    expect(await $('#password').inputValue()).toBe('');
  });

  it('never lets a secret reach an answer, a log line or the audit trail', async () => {
    const secrets = env.secrets();
    expect(secrets.length).toBeGreaterThan(10);
    expect(codes.length).toBeGreaterThan(0);
    const events = await env.t.request('GET', `/api/v2/vaults/${env.vaultId}/events?limit=1000`, { key: env.key });
    expect(events.body.total).toBeGreaterThan(30);
    const haystacks: [string, string][] = [
      ['agent answers', agent.seen.join('\n')],
      ['log lines', env.t.logs.join('\n')],
      ['audit events', events.text],
    ];
    for (const [where, text] of haystacks) {
      for (const secret of secrets) expect(text.includes(secret), `a secret in the ${where}`).toBe(false);
      for (const code of codes) expect(new RegExp(`(?<!\\d)${code}(?!\\d)`).test(text), `a TOTP code in the ${where}`).toBe(false);
    }
    // The trail names origins, never full URLs.
    for (const event of events.body.events) {
      if (event.origin !== null) expect(event.origin).toMatch(/^https?:\/\/[^/]+$/);
    }
    expect(events.body.events.filter((e: { action: string }) => e.action === 'fill').length).toBeGreaterThan(20);
  });

  function agentOptions() {
    return { sesameUrl: env.t.url, credential: env.key, vaultId: env.vaultId, cdpEndpoint: env.chrome.cdpEndpoint };
  }
});

async function targetIdOf(page: import('playwright-core').Page): Promise<string> {
  const session = await page.context().newCDPSession(page);
  const { targetInfo } = (await session.send('Target.getTargetInfo')) as { targetInfo: { targetId: string } };
  await session.detach();
  return targetInfo.targetId;
}
