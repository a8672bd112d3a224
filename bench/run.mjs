// HTTP benchmark: Sesame against a bare node:http baseline, measured in the same run.
//
// Every server runs in its own child process; the load (autocannon) comes from this process.
// Rounds alternate the order of the cases; results are req/s ratios to the baseline of the same
// round, and the median over rounds is what counts (single rounds swing by ±20 % on 2 cores).
//
// usage: node bench/run.mjs [--rounds 3] [--duration 5] [--warmup 1] [--connections 50] [--only sqlite|postgres]
// needs: `npm ci` (builds dist/), PostgreSQL on 127.0.0.1:5432 for the postgres cases.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'sesame.js');
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string' },
    seed: { type: 'string', default: '200' },
  },
});
const ROUNDS = Number(args.rounds);
const DURATION = Number(args.duration);
const WARMUP = Number(args.warmup);
const CONNECTIONS = Number(args.connections);
const SEED_VAULTS = Number(args.seed);
const POSTGRES_ADMIN = process.env.SESAME_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const OP_VAULT = 'benchvault7turaasywpymt3j';

const work = mkdtempSync(join(tmpdir(), 'sesame-bench-'));
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

// ---------- servers ----------

function startProcess(argv, env, readyPattern) {
  const child = spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  return new Promise((resolve, reject) => {
    // Read output only until the server is ready; afterwards drain it cheaply (the load generator must not
    // spend CPU on the servers' log lines).
    const onData = (chunk) => {
      output += chunk;
      const match = readyPattern.exec(output);
      if (!match) return;
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.stdout.resume();
      child.stderr.resume();
      resolve({ child, port: Number(match[1]) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${output.slice(-2000)}`)));
  });
}

async function stopProcess(server) {
  server.child.kill('SIGTERM');
  await new Promise((resolve) => server.child.once('exit', resolve));
  children.delete(server.child);
}

const baselineSource = `
  const http = require('node:http');
  const body = JSON.stringify({
    id: 'e8fa483c-388a-40a7-ab38-4ac253978ce9', org_id: '7b1e2d3c-4f5a-4b7c-8d9e-0f1a2b3c4d5e', name: 'prod-1password-00042',
    provider_config: { provider: 'onepassword', op_vault_id: 'abcd1234efgh5678ijkl9012mn' },
    created_at: '2026-05-07T14:30:00.000Z', updated_at: '2026-05-07T14:30:00.000Z' });
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
`;

function startBaseline() {
  const file = join(work, 'baseline.cjs');
  writeFileSync(file, baselineSource);
  return startProcess([file], {}, /listening (\d+)/);
}

async function startSesame(dialect, fixturePath) {
  let dropDatabase;
  // The rate limiter stays on (its cost is part of the measurement) with a budget the load cannot reach.
  const env = { PORT: '0', HOST: '127.0.0.1', SESAME_ONEPASSWORD_FIXTURE: fixturePath, LOG_LEVEL: 'info', SESAME_RATE_LIMIT: '100000000' };
  if (dialect === 'sqlite') {
    env.DATABASE_URL = `sqlite:${join(work, `bench-${randomBytes(4).toString('hex')}.db`)}`;
    env.SESAME_MASTER_KEY = randomBytes(32).toString('base64');
  } else {
    const name = `sesame_bench_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE DATABASE ${name}`);
    const url = new URL(POSTGRES_ADMIN);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    env.SESAME_MASTER_KEY = randomBytes(32).toString('base64');
    dropDatabase = name;
  }
  const server = await startProcess([BIN, 'serve'], env, /"port":(\d+),"database"/);
  const cli = (...argv) => JSON.parse(execFileSync(process.execPath, [BIN, ...argv], { env: { ...process.env, ...env } }).toString());
  const key = cli('api-key', 'create', '--org', cli('org', 'create', '--name', 'bench').id).key;
  // Creates go to an org of their own, so the read cases keep their 200 seeded vaults however many are created.
  const writeKey = cli('api-key', 'create', '--org', cli('org', 'create', '--name', 'bench-writes').id).key;
  return { ...server, env, key, writeKey, dropDatabase };
}

async function adminQuery(text) {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

// ---------- load ----------

function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

async function load(port, pid, request, { duration = DURATION } = {}) {
  const base = { url: `http://127.0.0.1:${port}`, connections: CONNECTIONS, duration };
  await autocannon({ ...base, duration: WARMUP, ...request });
  const cpuBefore = cpuSeconds(pid);
  const result = await autocannon({ ...base, ...request });
  const cpu = cpuSeconds(pid) - cpuBefore;
  const ok = result['2xx'];
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`unexpected answers: non2xx=${result.non2xx} errors=${result.errors} timeouts=${result.timeouts}`);
  }
  return {
    rps: ok / duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUsPerReq: (cpu * 1e6) / Math.max(ok, 1),
  };
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];

function cases(server, token, vaultIds) {
  const headers = { authorization: `Bearer ${server.key}` };
  let counter = 0;
  return {
    'GET /vaults/{id}': { headers, requests: [{ method: 'GET', setupRequest: (r) => ({ ...r, path: `/api/v2/vaults/${pick(vaultIds)}` }) }] },
    'GET /vaults?limit=50': { headers, requests: [{ method: 'GET', path: '/api/v2/vaults?limit=50' }] },
    'POST /vaults': {
      headers: { authorization: `Bearer ${server.writeKey}`, 'content-type': 'application/json' },
      requests: [
        {
          method: 'POST',
          path: '/api/v2/vaults',
          setupRequest: (r) => ({
            ...r,
            body: JSON.stringify({ name: `bench-${process.pid}-${Date.now()}-${counter++}`, provider_config: { op_vault_id: OP_VAULT }, token }),
          }),
        },
      ],
    },
    'GET /vaults/{id}/health': { headers, requests: [{ method: 'GET', setupRequest: (r) => ({ ...r, path: `/api/v2/vaults/${pick(vaultIds)}/health` }) }] },
  };
}

async function seed(server, token) {
  const ids = [];
  for (let i = 0; i < SEED_VAULTS; i++) {
    const response = await fetch(`http://127.0.0.1:${server.port}/api/v2/vaults`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `seed-${i}`, provider_config: { op_vault_id: OP_VAULT }, token }),
    });
    if (response.status !== 201) throw new Error(`seed failed: ${response.status} ${await response.text()}`);
    ids.push((await response.json()).id);
  }
  return ids;
}

// ---------- main ----------

const { mintFakeToken } = await import(join(ROOT, 'dist', 'providers', 'onepassword', 'fake-token.js'));
const token = mintFakeToken({ seed: 'bench' });
const fixturePath = join(work, 'fixture.json');
writeFileSync(
  fixturePath,
  JSON.stringify({ tokens: { [token]: { vaults: [OP_VAULT], state: 'active' } }, vaults: { [OP_VAULT]: { title: 'Bench', items: [] } }, faults: {} }),
);

const dialects = args.only ? [args.only] : ['sqlite', 'postgres'];
const rows = []; // { round, dialect, case, rps, p50, p99, cpuUsPerReq, ratio }
const baseline = await startBaseline();
const sesame = {};
for (const dialect of dialects) {
  const server = await startSesame(dialect, fixturePath);
  sesame[dialect] = { server, ids: await seed(server, token) };
}

for (let round = 1; round <= ROUNDS; round++) {
  for (const dialect of round % 2 ? dialects : [...dialects].reverse()) {
    const { server, ids } = sesame[dialect];
    const all = Object.entries(cases(server, token, ids));
    const order = round % 2 ? all : all.reverse();
    const base = await load(baseline.port, baseline.child.pid, {});
    rows.push({ round, dialect, case: 'baseline node:http', ...base, ratio: 1 });
    for (const [name, request] of order) {
      const result = await load(server.port, server.child.pid, request);
      rows.push({ round, dialect, case: name, ...result, ratio: result.rps / base.rps });
      console.error(`round ${round} ${dialect.padEnd(8)} ${name.padEnd(24)} ${result.rps.toFixed(0).padStart(6)} req/s  ratio ${(result.rps / base.rps).toFixed(3)}`);
    }
  }
}

for (const { server } of Object.values(sesame)) await stopProcess(server);
await stopProcess(baseline);
for (const { server } of Object.values(sesame)) if (server.dropDatabase) await adminQuery(`DROP DATABASE ${server.dropDatabase} WITH (FORCE)`);

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
console.log(`\nmedian of ${ROUNDS} rounds, ${CONNECTIONS} connections, ${DURATION} s each (ratio = req/s ÷ baseline req/s of the same round)\n`);
console.log('| database | case | req/s | p50 ms | p99 ms | CPU µs/req | ratio to baseline |');
console.log('|---|---|---|---|---|---|---|');
const keys = [...new Set(rows.map((r) => `${r.dialect}\t${r.case}`))];
for (const key of keys) {
  const [dialect, name] = key.split('\t');
  const group = rows.filter((r) => r.dialect === dialect && r.case === name);
  const m = (field) => median(group.map((r) => r[field]));
  console.log(`| ${dialect} | ${name} | ${m('rps').toFixed(0)} | ${m('p50').toFixed(1)} | ${m('p99').toFixed(1)} | ${m('cpuUsPerReq').toFixed(0)} | ${m('ratio').toFixed(3)} |`);
}
