// Fill latency: Sesame's POST /vaults/{id}/fill against Playwright's own locator.fill(), on the same
// page of the same Chromium, measured in the same run.
//
// One Chromium (dist/demo/chromium.js), one demo site (dist/demo/site.js, its /login page on
// login.app.localhost), Sesame in child processes started with `bin/sesame.js serve` (SQLite in a temp
// dir, the fixture backend with zero latency standing in for 1Password, an API key, LOG_LEVEL=info so
// that each request logs its server-side `ms`). The bench process holds its own Playwright connection
// to the browser: it finds the password input's centre, empties the field and takes focus away before
// every sample, checks after every sample that the field holds the value, and times Playwright's fill.
//
// warm: one server, after a warm-up. Three cases take turns (who goes first rotates): Sesame's fill over
//       HTTP, timed both as the client's round trip and as the server's own `ms` from its request log
//       line; Playwright's locator.fill(); and Sesame's library fillSecretAt() (dist/modules/fill) run in
//       this process on the bench's page with an in-memory secret source, i.e. the page work alone,
//       without HTTP, auth, database, provider or audit. Also the CPU each spends per fill.
// cold: the first fill on a freshly started server process (no CDP connection, no caches, cold JIT),
//       against Playwright's first fill on a fresh connectOverCDP connection of this process (timed with
//       and without connecting), and connect + first fill in a fresh node process, by Playwright and by
//       Sesame's library (as cold as the server).
// The ratio is Sesame's warm p50 ÷ Playwright's warm p50 of the same round; the median over rounds counts.
//
// usage: node bench/fill.mjs [--warm 150] [--rounds 3] [--warmup 20] [--cold 5]
//        --warm: fills per case per round; --cold: fresh servers (and fresh connections/processes of each cold case)
// needs: `npm ci` (builds dist/), Debian's Chromium at /usr/bin/chromium. Runs in about 45 s on 2 cores.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { BIN, HOST, ITEM_ID, loginFixture, OP_VAULT, ROOT, workspace } from './setup.mjs';

const { values: args } = parseArgs({
  options: {
    warm: { type: 'string', default: '150' },
    cold: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '20' },
  },
});
const WARM = Number(args.warm);
const COLD = Number(args.cold);
const ROUNDS = Number(args.rounds);
const WARMUP = Number(args.warmup);
const FILL_ROUTE = '/api/v2/vaults/:vault_id/fill';

const { launchChromium } = await import(join(ROOT, 'dist', 'demo', 'chromium.js'));
const { startSite } = await import(join(ROOT, 'dist', 'demo', 'site.js'));
const { fillSecretAt } = await import(join(ROOT, 'dist', 'modules', 'fill', 'index.js'));

const { work, children } = workspace('sesame-bench-fill-');

// ---------- Sesame in a child process ----------

/**
 * Starts `sesame serve`; resolves once it listens. Every request log line of the fill route is queued,
 * so that a sample can take the server's own `ms` for the request it just made.
 */
function startSesame(env) {
  const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const fills = []; // server-side ms, in log order
  const waiting = [];
  let tail = '';
  return new Promise((resolve, reject) => {
    const onLine = (line) => {
      tail = `${tail}${line}\n`.slice(-4000);
      if (line[0] !== '{') return;
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (typeof entry.port === 'number' && 'database' in entry) {
        resolve({
          child,
          url: `http://127.0.0.1:${entry.port}`,
          /** The server-side ms of the next fill request logged (they are logged just after the answer is sent). */
          nextFillMs: () => (fills.length > 0 ? Promise.resolve(fills.shift()) : new Promise((r) => waiting.push(r))),
        });
      } else if (entry.msg === 'request' && entry.route === FILL_ROUTE) {
        if (entry.status !== 200) console.error(`unexpected fill status ${entry.status}`);
        const next = waiting.shift();
        if (next) next(entry.ms);
        else fills.push(entry.ms);
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${tail}`)));
  });
}

async function stopSesame(server) {
  server.child.kill('SIGTERM');
  await new Promise((resolve) => (server.child.exitCode !== null ? resolve() : server.child.once('exit', resolve)));
  children.delete(server.child);
}

// ---------- setup ----------

const { token, password, env } = loginFixture(work, 'bench-fill');
// The fixture's item as the library's in-memory source lists it.
const ITEM = {
  id: ITEM_ID,
  title: 'Bench site',
  category: 'Login',
  updatedAt: '2026-01-01T00:00:00Z',
  websites: [{ url: `http://${HOST}`, autofill: 'AnywhereOnWebsite' }],
};

const chrome = await launchChromium();
const site = await startSite();
let server = await startSesame(env);
const cli = (...argv) => JSON.parse(execFileSync(process.execPath, [BIN, ...argv], { env: { ...process.env, ...env } }).toString());
const key = cli('api-key', 'create', '--org', cli('org', 'create', '--name', 'bench-fill').id).key;
const created = await fetch(`${server.url}/api/v2/vaults`, {
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ name: 'bench-fill', provider_config: { op_vault_id: OP_VAULT }, token }),
});
if (created.status !== 201) throw new Error(`creating the vault failed: ${created.status} ${await created.text()}`);
const vaultId = (await created.json()).id;

// The bench's own view of the browser: coordinates, clearing, checking, and Playwright's fill.
const browser = await chromium.connectOverCDP(chrome.cdpEndpoint);
const page = browser.contexts()[0]?.pages()[0];
if (!page) throw new Error('Chromium opened no page');
await page.goto(site.url(HOST, '/login'));
const box = await page.locator('#password').boundingBox();
const point = { x: Math.round(box.x + box.width / 2), y: Math.round(box.y + box.height / 2) };

// ---------- one sample of each ----------

/** Empties the field and takes focus away, so that every fill starts from the same state (not timed). */
async function reset() {
  await page.evaluate(() => {
    const input = document.querySelector('#password');
    input.value = '';
    input.blur();
  });
}

async function check(label) {
  const value = await page.evaluate(() => document.querySelector('#password').value);
  if (value !== password) throw new Error(`${label}: the field does not hold the password after the fill`);
}

/** Sesame: the client's round trip, and the server's own `ms` from the log line of this request. */
async function sesameFill(target = server) {
  await reset();
  const start = performance.now();
  const response = await fetch(`${target.url}/api/v2/vaults/${vaultId}/fill`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ cdp_endpoint: chrome.cdpEndpoint, ...point, field: 'password' }),
  });
  const answer = await response.json();
  const client = performance.now() - start;
  if (response.status !== 200 || answer.filled !== true)
    throw new Error(`Sesame did not fill: ${response.status} ${JSON.stringify(answer)}`);
  const serverMs = await target.nextFillMs();
  await check('Sesame');
  return { client, server: serverMs };
}

/** This process's CPU (all its threads) spent inside the timed calls of each in-process case, in µs. */
const benchCpu = { playwright: 0, library: 0 };
const cpuSince = (before) => {
  const { user, system } = process.cpuUsage(before);
  return user + system;
};

/** Playwright: locator.fill() on the bench's page, timed around the call. */
async function playwrightFill() {
  await reset();
  const cpu = process.cpuUsage();
  const start = performance.now();
  await page.locator('#password').fill(password);
  const ms = performance.now() - start;
  benchCpu.playwright += cpuSince(cpu);
  await check('Playwright');
  return ms;
}

/** The secret source of the library case: the one item, in memory (no provider, no cache, no I/O). */
const memorySource = {
  id: 'bench-memory',
  listItems: async () => [ITEM],
  describeItem: async () => [
    { id: 'username', label: 'username', kind: 'text' },
    { id: 'password', label: 'password', kind: 'concealed' },
  ],
  readValue: async (_item, fieldId) => (fieldId === 'password' ? password : 'bench-user'),
};

/** Sesame's library on the bench's own page: the page work of a fill, nothing of the server. */
async function libraryFill() {
  await reset();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const answer = await fillSecretAt(page, { ...point, field: 'password' }, memorySource);
  const ms = performance.now() - start;
  benchCpu.library += cpuSince(cpu);
  if (answer.filled !== true) throw new Error(`the library did not fill: ${JSON.stringify(answer)}`);
  await check('library');
  return ms;
}

/** Playwright cold: a fresh connectOverCDP connection, then its first fill; timed with and without connecting. */
async function playwrightColdFill() {
  await reset();
  const start = performance.now();
  const fresh = await chromium.connectOverCDP(chrome.cdpEndpoint);
  const freshPage = fresh.contexts()[0]?.pages()[0];
  if (!freshPage) throw new Error('the fresh connection sees no page');
  const connected = performance.now();
  await freshPage.locator('#password').fill(password);
  const end = performance.now();
  await check('Playwright (cold)');
  await fresh.close(); // a connectOverCDP browser only disconnects; the page stays
  return { withConnect: end - start, fillOnly: end - connected };
}

// Cold in a fresh node process, as cold as the server's first fill: playwright-core (and the library) are
// imported before the clock starts, as the server has them loaded before its first request; then
// connectOverCDP and the first fill are timed, by Playwright's locator.fill() or by Sesame's library.
const freshProcessScript = `
  const { chromium } = await import(${JSON.stringify(import.meta.resolve('playwright-core'))});
  const { fillSecretAt } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'modules', 'fill', 'index.js')).href)});
  const { mode, endpoint, point, item } = JSON.parse(process.argv[1]);
  const value = process.env.BENCH_FILL_VALUE;
  const source = {
    id: 'bench-memory',
    listItems: async () => [item],
    describeItem: async () => [{ id: 'password', label: 'password', kind: 'concealed' }],
    readValue: async () => value,
  };
  const start = performance.now();
  const browser = await chromium.connectOverCDP(endpoint);
  const page = browser.contexts()[0].pages()[0];
  const connected = performance.now();
  if (mode === 'library') {
    const answer = await fillSecretAt(page, { ...point, field: 'password' }, source);
    if (answer.filled !== true) throw new Error('the library did not fill: ' + JSON.stringify(answer));
  } else {
    await page.locator('#password').fill(value);
  }
  const end = performance.now();
  await browser.close();
  console.log(JSON.stringify({ withConnect: end - start, fillOnly: end - connected }));
`;

async function freshProcessFill(mode) {
  await reset();
  const argv = ['--input-type=module', '-e', freshProcessScript, JSON.stringify({ mode, endpoint: chrome.cdpEndpoint, point, item: ITEM })];
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, BENCH_FILL_VALUE: password },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  children.delete(child);
  if (code !== 0) throw new Error(`the fresh ${mode} process failed (${code})`);
  await check(`${mode} (fresh process)`);
  return JSON.parse(out);
}

// ---------- statistics ----------

/** CPU seconds a process has used (utime + stime from /proc, Linux); NaN elsewhere. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
const median = (values) => percentile(values, 50);
const summary = (values) => ({ n: values.length, p50: round(percentile(values, 50)), p95: round(percentile(values, 95)) });
const round = (ms) => Math.round(ms * 10) / 10;

// ---------- warm ----------

for (let i = 0; i < WARMUP; i++) {
  await sesameFill();
  await playwrightFill();
  await libraryFill();
}
const warm = { sesameClient: [], sesameServer: [], playwright: [], library: [] };
const perRound = [];
const cpuBefore = cpuSeconds(server.child.pid);
benchCpu.playwright = 0;
benchCpu.library = 0;
for (let r = 1; r <= ROUNDS; r++) {
  const round_ = { sesameClient: [], sesameServer: [], playwright: [], library: [] };
  const cases = {
    sesame: async () => {
      const s = await sesameFill();
      round_.sesameClient.push(s.client);
      round_.sesameServer.push(s.server);
    },
    playwright: async () => round_.playwright.push(await playwrightFill()),
    library: async () => round_.library.push(await libraryFill()),
  };
  const order = Object.values(cases);
  for (let i = 0; i < WARM; i++) {
    // Rotate which case goes first, per sample and per round.
    for (let j = 0; j < order.length; j++) await order[(i + r + j) % order.length]();
  }
  const p50 = {
    client: median(round_.sesameClient),
    server: median(round_.sesameServer),
    playwright: median(round_.playwright),
    library: median(round_.library),
  };
  perRound.push({
    round: r,
    ...p50,
    ratioClient: p50.client / p50.playwright,
    ratioServer: p50.server / p50.playwright,
    ratioLibrary: p50.library / p50.playwright,
  });
  for (const k of Object.keys(warm)) warm[k].push(...round_[k]);
  console.error(
    `round ${r}: warm p50 Sesame ${p50.client.toFixed(1)} ms (server ${p50.server.toFixed(1)} ms, library ${p50.library.toFixed(1)} ms), ` +
      `Playwright ${p50.playwright.toFixed(1)} ms; ratio ${(p50.client / p50.playwright).toFixed(2)} (server ${(p50.server / p50.playwright).toFixed(2)})`,
  );
}
// The server's own CPU per warm fill: what the server spends, as opposed to waiting for the browser.
const cpuMsPerFill = {
  sesame_server: ((cpuSeconds(server.child.pid) - cpuBefore) * 1000) / warm.sesameServer.length,
  playwright: benchCpu.playwright / 1000 / warm.playwright.length,
  library: benchCpu.library / 1000 / warm.library.length,
};
await stopSesame(server);

// ---------- cold ----------

const cold = {
  sesameClient: [],
  sesameServer: [],
  playwrightWithConnect: [],
  playwrightFillOnly: [],
  playwrightFreshProcess: [],
  libraryFreshProcess: [],
  libraryFreshProcessFillOnly: [],
};
for (let i = 0; i < COLD; i++) {
  const cases = [
    async () => {
      // Same database, vault and key, a new process: no DevTools connection, no caches, nothing JIT-compiled.
      server = await startSesame(env);
      const s = await sesameFill(server);
      cold.sesameClient.push(s.client);
      cold.sesameServer.push(s.server);
      await stopSesame(server);
    },
    async () => {
      const p = await playwrightColdFill();
      cold.playwrightWithConnect.push(p.withConnect);
      cold.playwrightFillOnly.push(p.fillOnly);
    },
    async () => cold.playwrightFreshProcess.push((await freshProcessFill('playwright')).withConnect),
    async () => {
      const l = await freshProcessFill('library');
      cold.libraryFreshProcess.push(l.withConnect);
      cold.libraryFreshProcessFillOnly.push(l.fillOnly);
    },
  ];
  for (let j = 0; j < cases.length; j++) await cases[(i + j) % cases.length]();
  console.error(
    `cold ${i + 1}: Sesame ${cold.sesameClient.at(-1).toFixed(1)} ms (server ${cold.sesameServer.at(-1).toFixed(1)} ms), ` +
      `Playwright connect + fill ${cold.playwrightWithConnect.at(-1).toFixed(1)} ms (fill ${cold.playwrightFillOnly.at(-1).toFixed(1)} ms), ` +
      `fresh process: Playwright ${cold.playwrightFreshProcess.at(-1).toFixed(1)} ms, library ${cold.libraryFreshProcess.at(-1).toFixed(1)} ms`,
  );
}

await browser.close();
await site.close();
await chrome.close();

// ---------- report ----------

const rows = [
  ['warm', 'Sesame fill, client round trip', warm.sesameClient],
  ['warm', 'Sesame fill, server-side (log ms)', warm.sesameServer],
  ['warm', 'Playwright locator.fill()', warm.playwright],
  ['warm', 'Sesame library fillSecretAt() (in-process, in-memory source)', warm.library],
  ['cold', 'Sesame fill, client round trip (fresh server)', cold.sesameClient],
  ['cold', 'Sesame fill, server-side (log ms)', cold.sesameServer],
  ['cold', 'Playwright connectOverCDP + first fill', cold.playwrightWithConnect],
  ['cold', 'Playwright first fill (fresh connection)', cold.playwrightFillOnly],
  ['cold', 'Playwright connectOverCDP + first fill, fresh node process', cold.playwrightFreshProcess],
  ['cold', 'Sesame library connectOverCDP + first fillSecretAt(), fresh node process', cold.libraryFreshProcess],
  ['cold', 'Sesame library first fillSecretAt() alone, fresh node process', cold.libraryFreshProcessFillOnly],
];
const ratio2 = (values) => Math.round(median(values) * 100) / 100;
const ratio = {
  warm_p50_client: ratio2(perRound.map((r) => r.ratioClient)),
  warm_p50_server: ratio2(perRound.map((r) => r.ratioServer)),
  warm_p50_library: ratio2(perRound.map((r) => r.ratioLibrary)),
};
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim();
} catch {
  // not a git checkout
}
console.log(`\nfill latency at ${commit}: warm ${ROUNDS} rounds × ${WARM} fills per case (after ${WARMUP} each), cold ${COLD} servers\n`);
console.log('| | case | n | p50 ms | p95 ms |');
console.log('|---|---|---|---|---|');
for (const [phase, name, values] of rows) {
  const s = summary(values);
  console.log(`| ${phase} | ${name} | ${s.n} | ${s.p50.toFixed(1)} | ${s.p95.toFixed(1)} |`);
}
console.log(
  `\nwarm p50 ratio Sesame ÷ Playwright (median of ${ROUNDS} rounds): client round trip ${ratio.warm_p50_client.toFixed(2)}, ` +
    `server-side ${ratio.warm_p50_server.toFixed(2)} (aim: ≤ 2); library alone ${ratio.warm_p50_library.toFixed(2)}`,
);
console.log(
  `CPU per warm fill (not counting Chromium's): Sesame server process ${cpuMsPerFill.sesame_server.toFixed(2)} ms (the whole request), ` +
    `Playwright locator.fill() ${cpuMsPerFill.playwright.toFixed(2)} ms, library fillSecretAt() ${cpuMsPerFill.library.toFixed(2)} ms (this process)\n`,
);
console.log(
  JSON.stringify({
    bench: 'fill',
    commit,
    rounds: ROUNDS,
    warm: {
      sesame_client: summary(warm.sesameClient),
      sesame_server: summary(warm.sesameServer),
      playwright: summary(warm.playwright),
      library: summary(warm.library),
    },
    cold: {
      sesame_client: summary(cold.sesameClient),
      sesame_server: summary(cold.sesameServer),
      playwright_connect_and_fill: summary(cold.playwrightWithConnect),
      playwright_fill: summary(cold.playwrightFillOnly),
      playwright_fresh_process: summary(cold.playwrightFreshProcess),
      library_fresh_process: summary(cold.libraryFreshProcess),
      library_fresh_process_fill: summary(cold.libraryFreshProcessFillOnly),
    },
    ratio,
    cpu_ms_per_warm_fill: Object.fromEntries(Object.entries(cpuMsPerFill).map(([k, v]) => [k, Math.round(v * 100) / 100])),
    per_round: perRound.map((r) => ({
      round: r.round,
      sesame_client_p50: round(r.client),
      sesame_server_p50: round(r.server),
      playwright_p50: round(r.playwright),
      library_p50: round(r.library),
    })),
  }),
);
