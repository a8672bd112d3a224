// A runner for a computer-use agent, wired to Sesame over MCP: the pattern docs/agents.md describes.
//
// The runner owns the browser and the agent session. For each session it
//   1. launches Chromium with a DevTools port,
//   2. mints a grant bound to that browser's page, through Sesame's API (with the API key only the
//      runner holds; the agent never sees it),
//   3. connects to Sesame's MCP endpoint with that grant and hands the tools to the model,
//   4. loops: screenshot -> model -> tool call (Sesame's, or its own click) -> next screenshot.
// The model sees screenshots, field names and "filled": true, never a secret.
//
// Here a scripted stand-in plays the model (it reads each input's position from the page, where a
// model would read it off the screenshot), so the example runs without an LLM. Try it against
// `sesame demo --keep` (paste the exports it prints), then:
//
//   npx tsc -p examples && node dist/examples/playwright-runner.js
//
// Environment: SESAME_URL, SESAME_API_KEY, SESAME_VAULT_ID, DEMO_LOGIN_URL (the login page), and
// optionally CHROMIUM_PATH (default /usr/bin/chromium) and SCREENSHOT_DIR (default ./runner-screenshots).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { chromium, type Page } from 'playwright-core';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (the exports printed by \`sesame demo --keep\` set it)`);
  return value;
}

const sesameUrl = env('SESAME_URL');
const apiKey = env('SESAME_API_KEY');
const vaultId = env('SESAME_VAULT_ID');
const loginUrl = env('DEMO_LOGIN_URL');
const screenshots = process.env.SCREENSHOT_DIR ?? 'runner-screenshots';
const say = (line: string) => console.log(line);

// 1. The agent's browser, with a DevTools port Sesame can reach (SESAME_CDP_ALLOW allows loopback).
const profile = mkdtempSync(join(tmpdir(), 'runner-profile-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--remote-debugging-port=0', '--no-sandbox'],
  viewport: { width: 1000, height: 700 },
});
const cdpEndpoint = `http://127.0.0.1:${readFileSync(join(profile, 'DevToolsActivePort'), 'utf8').split('\n')[0]}`;
const page = context.pages()[0] ?? (await context.newPage());
const cdp = await context.newCDPSession(page);
const { targetInfo } = (await cdp.send('Target.getTargetInfo')) as { targetInfo: { targetId: string } };
await cdp.detach();
say(`browser: ${cdpEndpoint}, page ${targetInfo.targetId}`);

let mcp: Client | undefined;
let signedIn = false;
try {
  // 2. A grant for this session: bound to this page of this browser, this site only, a few fills, short-lived.
  const minted = await fetch(`${sesameUrl}/api/v2/vaults/${vaultId}/grants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      expires_in: 900,
      allowed_domains: [new URL(loginUrl).hostname],
      max_fills: 5,
      cdp_endpoint: cdpEndpoint,
      target_id: targetInfo.targetId,
    }),
    signal: AbortSignal.timeout(10_000),
  });
  if (minted.status !== 201) throw new Error(`minting a grant failed: HTTP ${minted.status}`);
  const grant = (await minted.json()) as { id: string; grant: string };
  say(`grant ${grant.id} minted, bound to the page`);

  // 3. Sesame's tools, through MCP, authenticated by the grant (not the API key).
  mcp = new Client({ name: 'playwright-runner-example', version: '1.0.0' });
  await mcp.connect(
    new StreamableHTTPClientTransport(new URL('/mcp', sesameUrl), { requestInit: { headers: { Authorization: `Bearer ${grant.grant}` } } }),
  );
  const { tools } = await mcp.listTools();
  say(`tools for the model: ${tools.map((tool) => tool.name).join(', ')} (plus the runner's own screenshot and click)`);
  const instructions = mcp.getInstructions(); // goes into the model's system prompt
  say(`server instructions: ${instructions?.split('\n')[0]}`);

  const client = mcp;
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const result = (await client.callTool({ name, arguments: args }, undefined, { timeout: 30_000 })) as CallToolResult;
    const text = result.content[0]?.type === 'text' ? result.content[0].text : '';
    say(`  ${name}(${JSON.stringify(args)}) -> ${result.isError ? `error: ${text}` : text}`);
    if (result.isError) throw new Error(`${name} failed: ${text}`);
    return result.structuredContent as Record<string, unknown>;
  };

  // 4. The loop, scripted: what a model would decide from each screenshot.
  mkdirSync(screenshots, { recursive: true });
  let shot = 0;
  const screenshot = async (label: string) => {
    const path = join(screenshots, `${String(++shot).padStart(2, '0')}-${label}.png`);
    await page.screenshot({ path });
    say(`screenshot ${path}`);
  };
  const fill = async (selector: string, field: string) => {
    const answer = await call('fill_secret_at', { ...(await centre(page, selector)), field });
    if (answer.filled !== true) throw new Error(`Sesame did not fill ${field}: ${String(answer.reason)}`);
  };
  const click = async (selector: string) => {
    const { x, y } = await centre(page, selector);
    say(`  click(${x}, ${y})`);
    await page.mouse.click(x, y);
  };

  await page.goto(loginUrl);
  await screenshot('login-page');
  const listed = await call('list_secrets');
  const fields = (listed.fields as { field: string }[]).map((f) => f.field);
  if (!fields.includes('username') || !fields.includes('password')) throw new Error(`no login for this page: ${JSON.stringify(listed)}`);
  await fill('#username', 'username');
  await fill('#password', 'password'); // the page shows dots: the screenshot after it carries no value
  await screenshot('filled');
  await click('#submit');
  await page.locator('#code').waitFor({ timeout: 10_000 });
  await screenshot('code-asked');
  if (fields.includes('totp')) await fill('#code', 'totp');
  await click('#submit');
  await page.locator('#result').waitFor({ timeout: 10_000 });
  await screenshot('signed-in');
  signedIn = ((await page.locator('#result').textContent()) ?? '').startsWith('Signed in');
  say(signedIn ? 'signed in' : 'the site did not accept the sign-in');
} finally {
  await mcp?.close();
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exitCode = signedIn ? 0 : 1;

/** The viewport point at the middle of an element: what a model reads off a screenshot. */
async function centre(on: Page, selector: string): Promise<{ x: number; y: number }> {
  const box = await on.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} is not on the page`);
  return { x: Math.round(box.x + box.width / 2), y: Math.round(box.y + box.height / 2) };
}
