// MCP against HTTP: what a tool call through /mcp (or through `sesame mcp` over stdio) costs on top of
// the same action through the HTTP routes, on the same page of the same Chromium, in the same run.
//
// One Chromium, the demo site's /login on login.app.localhost, `sesame serve` in a child process
// (SQLite, the fixture backend with zero latency, LOG_LEVEL=info so each request logs its server-side
// `ms`), one grant bound to the browser's page. Cases take turns sample by sample (who goes first
// rotates), each timed as the client's round trip and as the server's own `ms`:
//   http list / mcp list      POST …/list-secrets {}  vs  tools/call list_secrets (one POST, as curl or the stdio bridge sends it)
//   sdk list                  the SDK's Client.callTool over Streamable HTTP (its session of one connect)
//   stdio list                the SDK's Client over stdio to `sesame mcp --url`, which forwards to /mcp
//   http fill / mcp fill      POST …/fill  vs  tools/call fill_secret_at (the password field, emptied before each)
//   mcp tools/list            the endpoint's own cost: authentication, a per-request server and transport, no browser
//
// usage: node bench/mcp.mjs [--samples 100] [--rounds 3] [--warmup 20]
// needs: `npm ci` (builds dist/), Debian's Chromium at /usr/bin/chromium. About a minute on 2 cores.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { chromium } from 'playwright-core';
import { BIN, HOST, loginFixture, OP_VAULT, ROOT, workspace } from './setup.mjs';

const { values: args } = parseArgs({
  options: {
    samples: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '20' },
  },
});
const SAMPLES = Number(args.samples);
const ROUNDS = Number(args.rounds);
const WARMUP = Number(args.warmup);

const { launchChromium } = await import(join(ROOT, 'dist', 'demo', 'chromium.js'));
const { startSite } = await import(join(ROOT, 'dist', 'demo', 'site.js'));

const { work, children } = workspace('sesame-bench-mcp-');
const { token, env } = loginFixture(work, 'bench-mcp');

/** `sesame serve`; every request's server-side ms is queued by route, in log order. */
function startSesame() {
  const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const logged = [];
  return new Promise((resolve, reject) => {
    const onLine = (line) => {
      if (line[0] !== '{') return;
      const entry = JSON.parse(line);
      if (typeof entry.port === 'number' && 'database' in entry) resolve({ url: `http://127.0.0.1:${entry.port}`, logged });
      else if (entry.msg === 'request') logged.push(entry);
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.on('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
}

const chrome = await launchChromium();
const site = await startSite();
const server = await startSesame();
const cli = (...argv) => JSON.parse(execFileSync(process.execPath, [BIN, ...argv], { env: { ...process.env, ...env } }).toString());
const key = cli('api-key', 'create', '--org', cli('org', 'create', '--name', 'bench-mcp').id).key;
const post = async (path, credential, body, headers = {}) => {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
};
const vaultId = (await post('/api/v2/vaults', key, { name: 'bench-mcp', provider_config: { op_vault_id: OP_VAULT }, token })).body.id;

const browser = await chromium.connectOverCDP(chrome.cdpEndpoint);
const page = browser.contexts()[0]?.pages()[0];
await page.goto(site.url(HOST, '/login'));
const session = await page.context().newCDPSession(page);
const { targetInfo } = await session.send('Target.getTargetInfo');
await session.detach();
const minted = await post(`/api/v2/vaults/${vaultId}/grants`, key, {
  expires_in: 86_400,
  cdp_endpoint: chrome.cdpEndpoint,
  target_id: targetInfo.targetId,
});
const grant = minted.body.grant;
const box = await page.locator('#password').boundingBox();
const point = { x: Math.round(box.x + box.width / 2), y: Math.round(box.y + box.height / 2) };

const sdk = new Client({ name: 'bench', version: '0' });
await sdk.connect(
  new StreamableHTTPClientTransport(new URL('/mcp', server.url), { requestInit: { headers: { Authorization: `Bearer ${grant}` } } }),
);
const stdio = new Client({ name: 'bench-stdio', version: '0' });
await stdio.connect(
  new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp', '--url', server.url],
    env: { SESAME_GRANT: grant },
    stderr: 'ignore',
  }),
);

// ---------- the cases ----------

const MCP = { accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
const call = (name, args) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });
async function emptyPassword() {
  await page.evaluate(() => {
    const input = document.querySelector('#password');
    input.value = '';
    input.blur();
  });
}
const expectOk = (ok, label) => {
  if (!ok) throw new Error(`${label}: unexpected answer`);
};
const cases = {
  'http list': async () => expectOk((await post(`/api/v2/vaults/${vaultId}/list-secrets`, grant, {})).body.fields?.length, 'http list'),
  'mcp list': async () => expectOk((await post('/mcp', grant, call('list_secrets', {}), MCP)).body.result?.structuredContent, 'mcp list'),
  'sdk list': async () => expectOk((await sdk.callTool({ name: 'list_secrets', arguments: {} })).structuredContent, 'sdk list'),
  'stdio list': async () => expectOk((await stdio.callTool({ name: 'list_secrets', arguments: {} })).structuredContent, 'stdio list'),
  'http fill': async () =>
    expectOk((await post(`/api/v2/vaults/${vaultId}/fill`, grant, { ...point, field: 'password' })).body.filled, 'http fill'),
  'mcp fill': async () =>
    expectOk(
      (await post('/mcp', grant, call('fill_secret_at', { ...point, field: 'password' }), MCP)).body.result?.structuredContent?.filled,
      'mcp fill',
    ),
  'mcp tools/list': async () =>
    expectOk((await post('/mcp', grant, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, MCP)).body.result, 'tools/list'),
};
const names = Object.keys(cases);

/** One timed sample: the client's round trip, and the server-side ms of the request(s) it made. */
async function sample(name) {
  if (name.endsWith('fill')) await emptyPassword();
  await new Promise((resolve) => setTimeout(resolve, 5)); // let the previous request's log line arrive
  const before = server.logged.length;
  const start = performance.now();
  await cases[name]();
  const client = performance.now() - start;
  await new Promise((resolve) => setTimeout(resolve, 5));
  const serverMs = server.logged.slice(before).reduce((sum, entry) => sum + entry.ms, 0);
  return { client, server: serverMs };
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

for (let i = 0; i < WARMUP; i++) for (const name of names) await sample(name);
const rounds = [];
for (let round = 0; round < ROUNDS; round++) {
  const results = Object.fromEntries(names.map((name) => [name, { client: [], server: [] }]));
  for (let i = 0; i < SAMPLES; i++) {
    const order = names.map((_, k) => names[(k + i) % names.length]);
    for (const name of order) {
      const { client, server: serverMs } = await sample(name);
      results[name].client.push(client);
      results[name].server.push(serverMs);
    }
  }
  rounds.push(
    Object.fromEntries(
      names.map((name) => [
        name,
        {
          client50: quantile(results[name].client, 0.5),
          client95: quantile(results[name].client, 0.95),
          server50: quantile(results[name].server, 0.5),
        },
      ]),
    ),
  );
}
const median = (values) => quantile(values, 0.5);
const row = (name) => {
  const pick = (field) => median(rounds.map((r) => r[name][field]));
  return { name, client50: pick('client50'), client95: pick('client95'), server50: pick('server50') };
};
const table = names.map(row);
const fmt = (n) => n.toFixed(2).padStart(7);
console.log(`\nmedian over ${ROUNDS} rounds of ${SAMPLES} samples per case (ms)\n`);
console.log('case              client p50  client p95  server p50');
for (const r of table) console.log(`${r.name.padEnd(16)}  ${fmt(r.client50)}     ${fmt(r.client95)}     ${fmt(r.server50)}`);
const by = Object.fromEntries(table.map((r) => [r.name, r]));
console.log(
  `\nMCP over HTTP, p50 client round trip: list +${(by['mcp list'].client50 - by['http list'].client50).toFixed(2)} ms, fill +${(by['mcp fill'].client50 - by['http fill'].client50).toFixed(2)} ms; SDK Client list +${(by['sdk list'].client50 - by['http list'].client50).toFixed(2)} ms; stdio list +${(by['stdio list'].client50 - by['http list'].client50).toFixed(2)} ms`,
);
console.log(JSON.stringify({ bench: 'mcp', samples: SAMPLES, rounds: ROUNDS, table }));

await sdk.close();
await stdio.close();
await browser.close();
await site.close();
await chrome.close();
process.exit(0);
