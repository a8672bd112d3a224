// The `sesame` executable as an operator uses it: JSON on stdout, messages on stderr, graceful SIGTERM.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVIRONMENT, SESAME_VERSION } from '../src/config.js';
import { migrationProvider } from '../src/db/migrations/index.js';
import { buildProgram } from '../src/main.js';
import { BIN, serve as startServe } from './helpers/cluster.js';
import { OP_VAULT, TestFixture } from './helpers/fixture.js';
import { createTestPostgres, POSTGRES_AVAILABLE } from './helpers/postgres.js';

const run = promisify(execFile);

let dir: string;
let env: Record<string, string>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sesame-cli-'));
  env = {
    ...(process.env as Record<string, string>),
    DATABASE_URL: `sqlite:${join(dir, 'data', 'sesame.db')}`,
    PORT: '0',
    LOG_LEVEL: 'info',
  };
  delete env.SESAME_MASTER_KEY;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function sesame(args: string[], extraEnv: Record<string, string> = {}) {
  const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...env, ...extraEnv } });
  return { json: JSON.parse(stdout), stdout, stderr };
}

/** `sesame serve` with this file's environment plus `extraEnv`, once it has logged its port. */
const serve = (extraEnv: Record<string, string>) => startServe({ ...env, ...extraEnv });

describe('sesame CLI', () => {
  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(SESAME_VERSION).toBe(version);
    expect((await run(process.execPath, [BIN, '--version'])).stdout.trim()).toBe(version);
  });

  it('describes every command in its --help, and serve --help lists every environment variable', async () => {
    const walk = (command: Command, path: string[]): string[][] =>
      command.commands.flatMap((sub) => [[...path, sub.name(), sub.description()], ...walk(sub, [...path, sub.name()])]);
    const commands = walk(buildProgram(), []);
    expect(commands.length).toBeGreaterThan(15);
    for (const entry of commands) expect(entry.at(-1), entry.join(' ')).toMatch(/\w{3}/);
    const help = {
      serve: (await run(process.execPath, [BIN, 'serve', '--help'])).stdout,
      mcp: (await run(process.execPath, [BIN, 'mcp', '--help'])).stdout,
    };
    for (const variable of ENVIRONMENT) expect(help[variable.command ?? 'serve'], variable.name).toContain(variable.name);
    expect(help.serve).not.toContain('SESAME_GRANT');
  });

  it('migrate applies the migrations once and prints JSON', async () => {
    const all = Object.keys(await migrationProvider.getMigrations());
    expect(all[0]).toBe('0001-initial');
    expect((await sesame(['migrate'])).json).toEqual({ applied: all });
    expect((await sesame(['migrate'])).json).toEqual({ applied: [] });
  });

  it('org list and api-key list show ids, names and times (last use included), never a key or its hash', async () => {
    const org = (await sesame(['org', 'create', '--name', 'listed'])).json;
    const first = (await sesame(['api-key', 'create', '--org', org.id, '--name', 'ci'])).json;
    const second = (await sesame(['api-key', 'create', '--org', org.id])).json;
    expect((await sesame(['org', 'list'])).json.organizations).toContainEqual({
      id: org.id,
      name: 'listed',
      created_at: expect.any(String),
    });

    const fixture = new TestFixture();
    const server = await serve({ SESAME_ONEPASSWORD_FIXTURE: fixture.path });
    try {
      const used = await fetch(`${server.url}/api/v2/vaults`, { headers: { authorization: `Bearer ${first.key}` } });
      expect(used.status).toBe(200);
      await sesame(['api-key', 'revoke', '--id', second.id]);
      // The use is written off the request's path: wait for it.
      let listed = (await sesame(['api-key', 'list', '--org', org.id])).json;
      for (let i = 0; i < 20 && !listed.api_keys[0]?.last_used_at; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        listed = (await sesame(['api-key', 'list', '--org', org.id])).json;
      }
      expect(listed).toEqual({
        org_id: org.id,
        api_keys: [
          { id: first.id, name: 'ci', created_at: expect.any(String), last_used_at: expect.any(String), revoked_at: null },
          { id: second.id, name: null, created_at: expect.any(String), last_used_at: null, revoked_at: expect.any(String) },
        ],
      });
      const text = JSON.stringify(listed);
      for (const secret of [first.key, second.key]) expect(text).not.toContain(secret.slice(10, 30));
      expect(text).not.toMatch(/[0-9a-f]{64}/); // no hash either
      const health = await fetch(`${server.url}/healthz`);
      expect(await health.json()).toEqual({ ok: true, version: SESAME_VERSION });
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      fixture.remove();
    }
    await expect(sesame(['api-key', 'list', '--org', '00000000-0000-4000-8000-000000000000'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('No organization'),
    });
  });

  it('creates an org and an API key, and a revoked key stops working at once on a running server', async () => {
    const fixture = new TestFixture();
    const org = (await sesame(['org', 'create', '--name', 'acme'])).json;
    expect(org).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: 'acme' });
    const issued = (await sesame(['api-key', 'create', '--org', org.id, '--name', 'ci'])).json;
    expect(issued).toEqual({ id: expect.any(String), org_id: org.id, key: expect.stringMatching(/^sesame_ak_[A-Za-z0-9_-]{43}$/) });

    const server = await serve({ SESAME_ONEPASSWORD_FIXTURE: fixture.path });
    try {
      const list = () => fetch(`${server.url}/api/v2/vaults`, { headers: { authorization: `Bearer ${issued.key}` } });
      expect((await list()).status).toBe(200);
      expect((await sesame(['api-key', 'revoke', '--id', issued.id])).json).toEqual({ id: issued.id, revoked: true });
      expect((await list()).status).toBe(401);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      fixture.remove();
    }
  });

  it('api-key create for an unknown org fails with a message and a non-zero exit', async () => {
    await expect(sesame(['api-key', 'create', '--org', '00000000-0000-4000-8000-000000000000'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('No organization'),
    });
  });

  it('refuses PostgreSQL without SESAME_MASTER_KEY', async () => {
    await expect(sesame(['serve'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('SESAME_MASTER_KEY is required'),
    });
  });
});

describe('sesame serve', () => {
  it('on a new data directory creates a first API key once, after the port is bound: into a 0600 file, never the log stream', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'sesame-fresh-'));
    const fixture = new TestFixture();
    const extra = { DATABASE_URL: `sqlite:${join(fresh, 'sesame.db')}`, SESAME_ONEPASSWORD_FIXTURE: fixture.path };
    try {
      const first = await serve(extra);
      // stderr is a pipe here, not a terminal: the key goes to a file next to the database; the log says where, and the ids.
      await expect.poll(() => existsSync(join(fresh, 'first-api-key.json'))).toBe(true);
      const issued = JSON.parse(readFileSync(join(fresh, 'first-api-key.json'), 'utf8')) as { id: string; org_id: string; key: string };
      const key = issued.key;
      expect(key).toMatch(/^sesame_ak_[A-Za-z0-9_-]{43}$/);
      expect(statSync(join(fresh, 'first-api-key.json')).mode & 0o777).toBe(0o600);
      await expect.poll(() => first.stderr()).toContain(join(fresh, 'first-api-key.json'));
      expect(first.stderr()).toContain(issued.org_id);
      expect(first.stderr()).toContain(issued.id);
      expect(first.stderr()).not.toMatch(/sesame_ak_/);
      expect(statSync(join(fresh, 'master.key')).mode & 0o777).toBe(0o600);
      const token = fixture.token();
      const created = await fetch(`${first.url}/api/v2/vaults`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'first', provider_config: { op_vault_id: OP_VAULT }, token }),
      });
      expect(created.status).toBe(201);
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);

      const second = await serve(extra);
      expect(second.stderr()).not.toMatch(/sesame_ak_/);
      // The same key file decrypts what the first run stored.
      const health = await fetch(`${second.url}/api/v2/vaults/${((await created.json()) as { id: string }).id}/health`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(await health.json()).toEqual({ ok: true, error: null });
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      fixture.remove();
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('shows the first API key on the terminal when stderr is one, with the org and key ids, and writes no file', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'sesame-tty-'));
    const fixture = new TestFixture();
    // `script` runs the command on a pseudo-terminal, as a person's shell would.
    const child = spawn('script', ['-qfec', `${process.execPath} ${BIN} serve`, '/dev/null'], {
      env: { ...env, DATABASE_URL: `sqlite:${join(fresh, 'sesame.db')}`, SESAME_ONEPASSWORD_FIXTURE: fixture.path, PORT: '0' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    try {
      await expect.poll(() => output, { timeout: 15_000 }).toMatch(/export SESAME_API_KEY=sesame_ak_[A-Za-z0-9_-]{43}/);
      expect(output).toMatch(/created organization "default" \([0-9a-f-]{36}\) and its first API key \([0-9a-f-]{36}\)/);
      expect(existsSync(join(fresh, 'first-api-key.json'))).toBe(false);
      // The JSON log lines say where the key went, never the key.
      const logLines = output.split(/\r?\n/).filter((line) => line.startsWith('{'));
      expect(logLines.some((line) => line.includes('shown on the terminal'))).toBe(true);
      for (const line of logLines) expect(line).not.toMatch(/sesame_ak_/);
    } finally {
      child.kill('SIGTERM');
      fixture.remove();
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('creates no key when the first start fails (port taken); the next start creates it', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'sesame-taken-'));
    const fixture = new TestFixture();
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const taken = String((blocker.address() as AddressInfo).port);
    const extra = { DATABASE_URL: `sqlite:${join(fresh, 'sesame.db')}`, SESAME_ONEPASSWORD_FIXTURE: fixture.path };
    try {
      await expect(sesame(['serve'], { ...extra, PORT: taken })).rejects.toMatchObject({ stderr: expect.stringContaining('EADDRINUSE') });
      expect(existsSync(join(fresh, 'first-api-key.json'))).toBe(false);
      const next = await serve(extra);
      await expect.poll(() => existsSync(join(fresh, 'first-api-key.json'))).toBe(true);
      next.child.kill('SIGTERM');
      expect(await next.exited).toBe(0);
    } finally {
      blocker.close();
      fixture.remove();
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('the README walk-through: the demo fixture accepts the token minted with --seed demo', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'sesame-readme-'));
    const fixturePath = join(import.meta.dirname, '..', 'examples', 'demo-fixture.json');
    try {
      const { token } = (await sesame(['fixture', 'mint-token', '--seed', 'demo'])).json;
      const server = await serve({ DATABASE_URL: `sqlite:${join(fresh, 'sesame.db')}`, SESAME_ONEPASSWORD_FIXTURE: fixturePath });
      await expect.poll(() => existsSync(join(fresh, 'first-api-key.json'))).toBe(true);
      const { key } = JSON.parse(readFileSync(join(fresh, 'first-api-key.json'), 'utf8')) as { key: string };
      const created = await fetch(`${server.url}/api/v2/vaults`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'prod-1password', provider_config: { op_vault_id: 'demovault7turaasywpymt3je' }, token }),
      });
      expect(created.status).toBe(201);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it.skipIf(!POSTGRES_AVAILABLE)('drains an in-flight request on SIGTERM and exits 0 (PostgreSQL)', async () => {
    const postgres = await createTestPostgres();
    const fixture = new TestFixture();
    try {
      const extra = {
        DATABASE_URL: postgres.url,
        SESAME_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
        SESAME_ONEPASSWORD_FIXTURE: fixture.path,
      };
      const org = (await sesame(['org', 'create', '--name', 'pg'], extra)).json;
      const { key } = (await sesame(['api-key', 'create', '--org', org.id], extra)).json;
      const server = await serve(extra);
      expect(server.stderr()).not.toMatch(/sesame_ak_/); // no bootstrap key on PostgreSQL
      fixture.setFaults({ latency_ms: 800 });
      const slow = fetch(`${server.url}/api/v2/vaults`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'slow', provider_config: { op_vault_id: OP_VAULT }, token: fixture.token() }),
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      server.child.kill('SIGTERM');
      expect((await slow).status).toBe(201);
      expect(await server.exited).toBe(0);
    } finally {
      fixture.remove();
      await postgres.drop();
    }
  });
});
