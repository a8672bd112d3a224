// `sesame demo`: the whole story on one machine, in a throw-away data directory. It starts Sesame on
// the embedded defaults (SQLite, generated master key) with the demo fixture standing in for
// 1Password, the demo website, and a headless Chromium; creates a vault and a grant over the API;
// then a scripted agent signs in with username, password and a TOTP code. Each step is printed;
// no value ever is. With --keep, everything stays up afterwards, with a grant bound to the demo
// browser and ready-to-paste exports, for a person to try the HTTP and MCP flows by hand.
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

export interface DemoOptions {
  /** Keep the server, the site and Chromium running after the sign-in until this settles (Ctrl-C), and print how to use them. */
  keepUntil?: Promise<unknown>;
  /** How `sesame` is run here, for the commands printed with keepUntil. */
  bin?: string;
}

/** Runs the demo; `say` receives each step for people. Resolves with the outcome; throws only when something could not start. */
export async function demoCommand(config: Config, say: (line: string) => void, options: DemoOptions = {}): Promise<DemoResult> {
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
    if (options.keepUntil) {
      // A fresh grant for the person, bound to the demo browser's page, and the page back at the login.
      const session = await page.context().newCDPSession(page);
      const { targetInfo } = (await session.send('Target.getTargetInfo')) as { targetInfo: { targetId: string } };
      await session.detach();
      const kept = await api('POST', `/vaults/${created.body.id}/grants`, {
        expires_in: 3600,
        allowed_domains: [host],
        max_fills: 20,
        cdp_endpoint: chrome.cdpEndpoint,
        target_id: targetInfo.targetId,
      });
      if (kept.status !== 201) throw new Error(`minting a grant failed with ${kept.status}`);
      await page.goto(site.url(host, '/totp'));
      const point = await agent.centre(page.locator('#username'));
      const passwordPoint = await agent.centre(page.locator('#password'));
      say(
        keepInstructions({
          url: server.url,
          apiKey: key,
          vaultId: created.body.id,
          grant: kept.body.grant,
          cdpEndpoint: chrome.cdpEndpoint,
          loginUrl: page.url(),
          host,
          point,
          passwordPoint,
          bin: options.bin ?? 'npx sesame',
        }),
      );
      await options.keepUntil;
      say('Stopping the server, the demo site and Chromium.');
    }
    return { signed_in: signedIn, steps };
  } finally {
    for (const close of cleanup) await close().catch(() => undefined);
  }
}

interface KeptDemo {
  url: string;
  apiKey: string;
  vaultId: string;
  grant: string;
  cdpEndpoint: string;
  loginUrl: string;
  host: string;
  point: { x: number; y: number };
  passwordPoint: { x: number; y: number };
  bin: string;
}

/** What --keep prints: exports to paste into another terminal, and commands that use them. */
function keepInstructions(demo: KeptDemo): string {
  const mcpCall = (name: string, args: Record<string, unknown>) =>
    `'${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } })}'`;
  const grantHeaders = `-H "Authorization: Bearer $SESAME_GRANT" -H 'Content-Type: application/json'`;
  const mcpHeaders = `${grantHeaders} -H 'Accept: application/json, text/event-stream'`;
  return [
    '',
    'Everything keeps running. Paste these exports into another terminal (throw-away credentials of this demo):',
    '',
    `export SESAME_URL=${demo.url}`,
    `export SESAME_API_KEY=${demo.apiKey}`,
    `export SESAME_VAULT_ID=${demo.vaultId}`,
    `export SESAME_GRANT=${demo.grant}`,
    `export SESAME_MCP_URL=${demo.url}/mcp`,
    `export SESAME_CDP_ENDPOINT=${demo.cdpEndpoint}`,
    `export DEMO_LOGIN_URL=${demo.loginUrl}`,
    // Where the login page's inputs are (viewport CSS pixels), for fill commands such as the README's.
    `export DEMO_USERNAME_X=${demo.point.x}`,
    `export DEMO_USERNAME_Y=${demo.point.y}`,
    `export DEMO_PASSWORD_X=${demo.passwordPoint.x}`,
    `export DEMO_PASSWORD_Y=${demo.passwordPoint.y}`,
    '',
    `SESAME_GRANT is bound to the demo browser's page, which shows DEMO_LOGIN_URL (${demo.host} only, 20 fills, 1 hour);`,
    `its username input is at (${demo.point.x}, ${demo.point.y}). Then try:`,
    '',
    '# HTTP: the grant names the browser, so the body needs none',
    `curl -s -X POST "$SESAME_URL/api/v2/vaults/$SESAME_VAULT_ID/list-secrets" ${grantHeaders} -d '{}'`,
    `curl -s -X POST "$SESAME_URL/api/v2/vaults/$SESAME_VAULT_ID/fill" ${grantHeaders} -d '${JSON.stringify({ ...demo.point, field: 'username' })}'`,
    '# MCP over HTTP: one JSON-RPC message per POST',
    `curl -s "$SESAME_MCP_URL" ${mcpHeaders} -d ${mcpCall('list_secrets', {})}`,
    `curl -s "$SESAME_MCP_URL" ${mcpHeaders} -d ${mcpCall('fill_secret_at', { ...demo.point, field: 'username' })}`,
    '# MCP over stdio, as a client that launches a command runs it (it reads SESAME_GRANT; type JSON-RPC lines, or configure your client)',
    `#   ${demo.bin} mcp --url "$SESAME_URL"`,
    '# The runner example (its own Chromium, a grant it mints, screenshots, MCP), see docs/agents.md:',
    '#   npx tsc -p examples && node dist/examples/playwright-runner.js',
    '# What happened, as the audit trail has it',
    `curl -s "$SESAME_URL/api/v2/vaults/$SESAME_VAULT_ID/events?limit=10" -H "Authorization: Bearer $SESAME_API_KEY"`,
    '',
    'Ctrl-C stops the server, the demo site and Chromium.',
  ].join('\n');
}

/** The server's own log lines are not part of the demo's story. */
function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
}
