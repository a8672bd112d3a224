// docs/agents.md, run: `sesame demo --keep` as a person starts it, every curl command it prints run
// with the exports it prints, the two MCP client configurations of the page used as a client uses
// them, and examples/playwright-runner.ts compiled and run as the page says. Last, Ctrl-C stops
// everything. No output of any of it carries a value of the demo fixture.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_FIXTURE } from '../../src/cli/demo.js';
import { callTool, stdioClient } from '../helpers/mcp.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'sesame.js');

/** The JSON code block that follows `<!-- tested: name … -->` in docs/agents.md. */
function documentedConfig(name: string): { mcpServers: { sesame: Record<string, unknown> } } {
  const page = readFileSync(join(ROOT, 'docs', 'agents.md'), 'utf8');
  const block = new RegExp(`<!-- tested: ${name}\\b[^>]*-->\\s*\`\`\`json\\n([\\s\\S]*?)\`\`\``).exec(page)?.[1];
  if (!block) throw new Error(`docs/agents.md has no tested block ${name}`);
  return JSON.parse(block);
}

/** Every value of the demo fixture that must never be shown: passwords, TOTP seed, tokens. */
function fixtureSecrets(): string[] {
  const fixture = readFileSync(fileURLToPath(DEMO_FIXTURE), 'utf8');
  const values = [...fixture.matchAll(/"(?:value|secret)"\s*:\s*"([^"]+)"/g)].map((m) => m[1] as string).filter((v) => v !== 'demo-user');
  const tokens = [...fixture.matchAll(/"(ops_[^"]+)"/g)].map((m) => m[1] as string);
  const seed = /secret=([A-Z2-7]+)/.exec(fixture)?.[1] as string;
  return [...values, ...tokens, seed];
}

describe('docs/agents.md, run', () => {
  let demo: ChildProcess;
  let stdout = '';
  let stderr = '';
  const exports: Record<string, string> = {};
  const outputs: string[] = [];

  beforeAll(async () => {
    demo = spawn(process.execPath, [BIN, 'demo', '--keep'], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent' } });
    demo.stdout?.on('data', (chunk) => {
      stdout += String(chunk);
    });
    demo.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const deadline = Date.now() + 60_000;
    while (!stderr.includes('Ctrl-C stops') && Date.now() < deadline && demo.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!stderr.includes('Ctrl-C stops')) throw new Error(`sesame demo --keep did not get ready:\n${stderr}`);
    for (const [, name, value] of stderr.matchAll(/^export (\w+)=(\S+)$/gm)) exports[name as string] = value as string;
  }, 90_000);
  afterAll(() => {
    if (demo?.exitCode === null) demo.kill('SIGKILL');
  });

  it('sesame demo --keep signs in, then prints the exports of a running setup', () => {
    expect(stderr).toContain('the site accepted the sign-in');
    expect(Object.keys(exports)).toEqual([
      'SESAME_URL',
      'SESAME_API_KEY',
      'SESAME_VAULT_ID',
      'SESAME_GRANT',
      'SESAME_MCP_URL',
      'SESAME_CDP_ENDPOINT',
      'DEMO_LOGIN_URL',
      'DEMO_USERNAME_X',
      'DEMO_USERNAME_Y',
      'DEMO_PASSWORD_X',
      'DEMO_PASSWORD_Y',
    ]);
    expect(exports.SESAME_GRANT).toMatch(/^sesame_gr_/);
    expect(exports.SESAME_MCP_URL).toBe(`${exports.SESAME_URL}/mcp`);
  });

  it('every curl command it prints works with those exports, pasted into a shell', async () => {
    const commands = stderr.split('\n').filter((line) => line.startsWith('curl '));
    expect(commands).toHaveLength(5);
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers of several shapes
    const answers: any[] = [];
    for (const command of commands) {
      const { stdout: out } = await run('bash', ['-c', command], { env: { ...process.env, ...exports }, timeout: 30_000 });
      outputs.push(out);
      answers.push(JSON.parse(out));
    }
    const [listed, filled, mcpListed, mcpFilled, events] = answers;
    expect(listed?.fields.map((f: { field: string }) => f.field)).toEqual(['username', 'password', 'totp']);
    expect(filled).toEqual({ filled: true, field: 'username' });
    expect(mcpListed?.result.structuredContent).toEqual(listed);
    expect(mcpFilled?.result.structuredContent).toEqual({ filled: true, field: 'username' });
    expect(events?.events.slice(0, 4).map((e: { action: string }) => e.action)).toEqual(['fill', 'list_secrets', 'fill', 'list_secrets']);
  });

  it('the MCP client configuration for HTTP connects, and lists the fields of the demo page', async () => {
    const config = documentedConfig('mcp-http-config').mcpServers.sesame as { type: string; url: string; headers: Record<string, string> };
    expect(config.type).toBe('http');
    const url = config.url.replace('http://127.0.0.1:8080', exports.SESAME_URL as string);
    const headers = Object.fromEntries(
      Object.entries(config.headers).map(([name, value]) => [name, value.replace('sesame_gr_…', exports.SESAME_GRANT as string)]),
    );
    const client = new Client({ name: 'docs-http-config', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
    const listed = await callTool(client, 'list_secrets');
    outputs.push(JSON.stringify(listed));
    expect((listed.structuredContent as { fields: unknown[] }).fields).toHaveLength(3);
    await client.close();
  });

  it('the MCP client configuration for stdio launches sesame mcp, which lists the fields of the demo page', async () => {
    const config = documentedConfig('mcp-stdio-config').mcpServers.sesame as {
      command: string;
      args: string[];
      env: Record<string, string>;
    };
    expect(config.command).toBe('node');
    const args = config.args.map((arg) =>
      arg.replace('/opt/sesame/bin/sesame.js', BIN).replace('http://127.0.0.1:8080', exports.SESAME_URL as string),
    );
    const env = Object.fromEntries(
      Object.entries(config.env).map(([name, value]) => [name, value.replace('sesame_gr_…', exports.SESAME_GRANT as string)]),
    );
    const elsewhere = mkdtempSync(join(tmpdir(), 'mcp-client-cwd-')); // clients launch commands from a directory of their own
    try {
      const { client, stderr: bridgeErr } = await stdioClient(process.execPath, args, env, undefined, elsewhere);
      const listed = await callTool(client, 'list_secrets');
      outputs.push(JSON.stringify(listed), bridgeErr());
      expect((listed.structuredContent as { fields: unknown[] }).fields).toHaveLength(3);
      await client.close();
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('examples/playwright-runner.ts, compiled and run as the page says, signs in to the demo site through MCP', async () => {
    await run('npx', ['tsc', '-p', 'examples'], { cwd: ROOT, timeout: 120_000 });
    const shots = mkdtempSync(join(tmpdir(), 'runner-shots-'));
    try {
      const { stdout: out, stderr: err } = await run(process.execPath, [join(ROOT, 'dist', 'examples', 'playwright-runner.js')], {
        cwd: ROOT,
        env: { ...process.env, ...exports, SCREENSHOT_DIR: shots },
        timeout: 60_000,
      });
      outputs.push(out, err);
      expect(out).toMatch(/grant [0-9a-f-]{36} minted, bound to the page/);
      expect(out).toContain('tools for the model: list_secrets, fill_secret_at');
      expect(out).toMatch(/fill_secret_at\(\{"x":\d+,"y":\d+,"field":"totp"\}\) -> \{"filled":true,"field":"totp"\}/);
      expect(out.trim().split('\n').at(-1)).toBe('signed in');
      expect(readdirSync(shots).sort()).toEqual(['01-login-page.png', '02-filled.png', '03-code-asked.png', '04-signed-in.png']);
    } finally {
      rmSync(shots, { recursive: true, force: true });
    }
  });

  it('prints no value of the demo fixture anywhere', () => {
    const secrets = fixtureSecrets();
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    for (const text of [stdout, stderr, ...outputs]) {
      for (const secret of secrets) expect(text.includes(secret), 'a secret in the output').toBe(false);
    }
  });

  it('Ctrl-C stops the server, the demo site and Chromium, and exits 0', async () => {
    const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
    demo.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ signed_in: true, steps: 13 });
    for (const url of [`${exports.SESAME_URL}/healthz`, `${exports.SESAME_CDP_ENDPOINT}/json/version`, exports.DEMO_LOGIN_URL as string]) {
      const reached = await fetch(url.replace('app.localhost', '127.0.0.1'), { signal: AbortSignal.timeout(2_000) }).then(
        () => true,
        () => false,
      );
      expect(reached, url).toBe(false);
    }
  });
});
