// `sesame demo`: the whole story on one machine, in a throw-away data directory. It starts Sesame on
// the embedded defaults (SQLite, generated master key) with the demo fixture standing in for
// 1Password, the demo website, and a headless Chromium; creates a vault and a grant over the API;
// then a scripted agent signs in with username, password and a TOTP code. Each step is printed;
// no value ever is.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Config } from '../config.js';
import { scriptedAgent } from '../demo/agent.js';
import { launchChromium } from '../demo/chromium.js';
import { startSite } from '../demo/site.js';
import { createAuthModule } from '../modules/auth/index.js';
import { startServer } from './serve.js';

/** The fixture shipped in the repository: one vault, one login for http://app.localhost (any port). */
export const DEMO_FIXTURE = new URL('../../examples/demo-fixture.json', import.meta.url);

interface DemoFixture {
  tokens: Record<string, { vaults: string[]; state?: string }>;
  vaults: Record<string, { items: { websites: { url: string }[]; fields: { id: string; type: string; value: string }[] }[] }>;
}

export interface DemoResult {
  signed_in: boolean;
  steps: number;
}

/** Runs the demo; `say` receives each step for people. Resolves with the outcome; throws only when something could not start. */
export async function demoCommand(config: Config, say: (line: string) => void): Promise<DemoResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-demo-'));
  const cleanup: (() => Promise<unknown>)[] = [async () => rmSync(dir, { recursive: true, force: true })];
  let steps = 0;
  const step = (text: string) => say(`${String(++steps).padStart(2)}. ${text}`);
  try {
    const fixturePath = fileURLToPath(DEMO_FIXTURE);
    const fixture = JSON.parse(readFileSync(fixturePath, 'utf8')) as DemoFixture;
    const [opVaultId, vault] = Object.entries(fixture.vaults)[0] ?? [];
    const [token] =
      Object.entries(fixture.tokens).find(([, t]) => (t.state ?? 'active') === 'active' && t.vaults.includes(opVaultId ?? '')) ?? [];
    const login = vault?.items[0];
    if (!opVaultId || !token || !login) throw new Error('the demo fixture has no usable vault, token and login');
    const value = (id: string) => login.fields.find((f) => f.id === id || f.type === id)?.value ?? '';
    const username = value('username');

    const site = await startSite([{ username, password: value('password'), totp: value('totp') }]);
    cleanup.unshift(() => site.close());
    const host = new URL(login.websites[0]?.url ?? 'http://app.localhost').hostname;
    step(`demo website on ${site.url(host, '/')} (a login with a one-time code)`);

    const server = await startServer(
      {
        ...config,
        host: '127.0.0.1',
        port: 0,
        database: { dialect: 'sqlite', path: join(dir, 'sesame.db') },
        masterKey: undefined,
        masterKeyFile: join(dir, 'master.key'),
        onePasswordFixture: fixturePath,
        cdpAllow: ['loopback'],
        tls: undefined,
        authMode: 'api-key',
      },
      { logStream: discard(), bootstrap: false },
    );
    cleanup.unshift(() => server.close());
    step(`Sesame on ${server.url} (SQLite in ${dir}, 1Password replaced by ${fixturePath})`);

    const chrome = await launchChromium();
    cleanup.unshift(() => chrome.close());
    step(`headless Chromium with DevTools on ${chrome.cdpEndpoint}`);

    const auth = createAuthModule({ db: server.database.db }).service;
    const org = await auth.createOrganization('demo');
    const { key } = await auth.issueApiKey(org.id, 'demo');
    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${server.url}/api/v2${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      // biome-ignore lint/suspicious/noExplicitAny: JSON answers of several shapes
      return { status: response.status, body: (await response.json().catch(() => null)) as any };
    };
    const created = await api('POST', '/vaults', { name: 'demo logins', provider_config: { op_vault_id: opVaultId }, token });
    if (created.status !== 201) throw new Error(`creating the vault failed with ${created.status}`);
    step(`vault config ${created.body.id} created (token checked against the fixture, stored encrypted)`);
    const minted = await api('POST', `/vaults/${created.body.id}/grants`, { expires_in: 600, allowed_domains: [host], max_fills: 5 });
    if (minted.status !== 201) throw new Error(`minting a grant failed with ${minted.status}`);
    step(`grant ${minted.body.id} minted for the agent: this vault only, ${host} only, 5 fills, 10 minutes`);

    const browser = await chromium.connectOverCDP(chrome.cdpEndpoint);
    cleanup.unshift(() => browser.close());
    const page = browser.contexts()[0]?.pages()[0] ?? (await browser.contexts()[0]?.newPage());
    if (!page) throw new Error('Chromium opened no page');
    const agent = scriptedAgent({
      sesameUrl: server.url,
      credential: minted.body.grant,
      vaultId: created.body.id,
      cdpEndpoint: chrome.cdpEndpoint,
      page,
    });
    const show = (answer: { status: number; body: unknown }) => `${answer.status} ${JSON.stringify(answer.body)}`;
    const fill = async (selector: string, field: string) => {
      const point = await agent.centre(page.locator(selector));
      const answer = await agent.fillAtPoint(point, field);
      step(`agent: fill_secret_at(${point.x}, ${point.y}, "${field}") → ${show(answer)}`);
      return answer.body?.filled === true;
    };

    await page.goto(site.url(host, '/totp'));
    step(`agent opens ${page.url()}`);
    step(`agent: list_secrets → ${show(await agent.listSecrets())}`);
    const filled = (await fill('#username', 'username')) && (await fill('#password', 'password'));
    if (filled) {
      await agent.click(page.locator('#submit'));
      await page.locator('#code').waitFor({ timeout: 10_000 });
      step('agent clicks "Sign in"; the site asks for a one-time code');
    }
    if (filled && (await fill('#code', 'totp'))) {
      await agent.click(page.locator('#submit'));
      await page.locator('#result').waitFor({ timeout: 10_000 });
    }
    const signedIn = site.signIns.some((s) => s.username === username && s.page === 'totp');
    // The site's own message names the account; the demo prints no field value at all, not even a username.
    step(signedIn ? 'the site accepted the sign-in' : 'the site did not accept the sign-in');

    const events = await api('GET', `/vaults/${created.body.id}/events?limit=20`);
    const trail = (events.body?.events ?? [])
      .slice()
      .reverse()
      .map((e: { action: string; field: string | null; outcome: string }) => `${e.action}${e.field ? `(${e.field})` : ''}:${e.outcome}`);
    step(`audit trail: ${trail.join(', ')}`);
    say(signedIn ? 'Signed in. No secret value was shown to the agent, printed or logged.' : 'The demo did not sign in.');
    return { signed_in: signedIn, steps };
  } finally {
    for (const close of cleanup) await close().catch(() => undefined);
  }
}

/** The server's own log lines are not part of the demo's story. */
function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
}
