// The README's walk-through, run as a person runs it: its commands are read from README.md itself
// (the ```sh blocks of "Walk-through with curl"), the first started as the person's first terminal
// and left running, its `export` lines pasted before the second block, which runs in bash. Each
// answer the README promises in a comment is checked, and no output carries a secret of the fixture.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_FIXTURE } from '../../src/cli/demo.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

/** The ```sh blocks of one README section, in order. */
function shellBlocks(section: string): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`README.md has no section ${section}`);
  const end = readme.indexOf('\n## ', start + 1);
  const text = readme.slice(start, end < 0 ? undefined : end);
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

/** Every value of the demo fixture that must never be shown. */
function fixtureSecrets(): string[] {
  const fixture = readFileSync(fileURLToPath(DEMO_FIXTURE), 'utf8');
  const values = [...fixture.matchAll(/"value"\s*:\s*"([^"]+)"/g)].map((m) => m[1] as string).filter((v) => v !== 'demo-user');
  const tokens = [...fixture.matchAll(/"(ops_[^"]+)"/g)].map((m) => (m[1] as string).slice(4, 60));
  return [...values, ...tokens];
}

describe('README.md, walk-through with curl, run', () => {
  const [first = '', second = ''] = shellBlocks('Walk-through with curl');
  let demo: ChildProcess;
  let stderr = '';
  let exports = '';

  beforeAll(async () => {
    // The first terminal: the command exactly as written, in its own process group for Ctrl-C.
    expect(first.trim()).toBe('npx sesame demo --keep');
    demo = spawn('bash', ['-c', first], { cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: process.env });
    demo.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const deadline = Date.now() + 90_000;
    while (!stderr.includes('Ctrl-C stops') && Date.now() < deadline && demo.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!stderr.includes('Ctrl-C stops')) throw new Error(`sesame demo --keep did not get ready:\n${stderr}`);
    // What the person pastes: the export lines, as printed.
    exports = stderr
      .split('\n')
      .filter((line) => line.startsWith('export '))
      .join('\n');
  }, 120_000);

  afterAll(async () => {
    if (demo?.pid !== undefined && demo.exitCode === null) {
      process.kill(-demo.pid, 'SIGINT'); // Ctrl-C
      await new Promise((resolve) => demo.once('exit', resolve));
    }
  });

  it('every command of the second block works, in order, with the pasted exports', { timeout: 120_000 }, async () => {
    const script = `set -euo pipefail\n${exports}\n${second}`;
    const { stdout } = await run('bash', ['-c', script], { cwd: ROOT, env: process.env, timeout: 110_000, maxBuffer: 16 * 1024 * 1024 });
    const lines = stdout.split('\n');
    const statuses = lines.filter((line) => /^HTTP\/1\.1 \d{3}/.test(line)).map((line) => line.slice(9, 12));
    // The replayed create, the rotation, the grant's revocation and the vault's deletion, in that order.
    expect(statuses).toEqual(['201', '204', '204', '204']);
    expect(stdout).toMatch(/^idempotent-replayed: true\r?$/im);
    expect(stdout).toMatch(/^location: \/api\/v2\/vaults\/[0-9a-f-]{36}\r?$/im);
    // Each body on a line of its own (-w '\n'), in the order of the commands that print one.
    const json = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
    expect(json).toHaveLength(10);
    const [created, list, retrieved, patched, health, listed, username, password, events, grants] = json;
    expect(created.name).toBe('prod-1password');
    expect(list.vaults.map((v: { name: string }) => v.name)).toContain('prod-1password');
    expect(retrieved.id).toBe(created.id);
    expect(patched).toMatchObject({ id: created.id, name: 'prod', provider_config: { op_vault_id: 'demovault7turaasywpymt3je' } });
    expect(health).toEqual({ ok: true, error: null });
    expect(listed.fields.map((f: { field: string }) => f.field)).toEqual(['username', 'password', 'totp']);
    expect(username).toEqual({ filled: true, field: 'username' });
    expect(password).toEqual({ filled: true, field: 'password' });
    expect(events.events.slice(0, 3).map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`)).toEqual([
      'fill:ok',
      'fill:ok',
      'list_secrets:ok',
    ]);
    expect(grants.grants).toHaveLength(1);
    for (const secret of fixtureSecrets()) expect(stdout).not.toContain(secret);

    // The vault was deleted last: it is gone, and the demo's own vault is still there.
    const env = Object.fromEntries([...exports.matchAll(/^export (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    const gone = await fetch(`${env.SESAME_URL}/api/v2/vaults/${created.id}`, {
      headers: { authorization: `Bearer ${env.SESAME_API_KEY}` },
    });
    expect(gone.status).toBe(404);
    const demoVault = await fetch(`${env.SESAME_URL}/api/v2/vaults/${env.SESAME_VAULT_ID}`, {
      headers: { authorization: `Bearer ${env.SESAME_API_KEY}` },
    });
    expect(demoVault.status).toBe(200);
  });
});
