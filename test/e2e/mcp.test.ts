// Signing in through MCP, end to end: the SDK's own Client over Streamable HTTP (the server's /mcp) and
// over stdio (`sesame mcp`, launched as a desktop client launches it), a grant bound to a real
// Chromium, the local site's username + password + TOTP login. Refusals, an expired grant and a client
// that hangs up mid-fill; the audit trail of an MCP sign-in is the trail of the same sign-in over
// HTTP. Last, every MCP message, HTTP exchange, log line, stderr line and audit event of the file is
// searched for the secrets and the codes typed.
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTotp } from '../../src/modules/fill/totp.js';
import { encodedForms } from '../helpers/canary.js';
import { callTool, httpClient, type McpRecord, newRecord, stdioClient, textOf } from '../helpers/mcp.js';
import { type FillEnvironment, HOSTS, startFillEnvironment } from './harness.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'sesame.js');

describe('signing in through MCP with Chromium', () => {
  let env: FillEnvironment;
  let targetId: string;
  const record: McpRecord = newRecord();
  const stderrs: (() => string)[] = [];
  const codes: string[] = [];
  const clients: Client[] = [];

  beforeAll(async () => {
    env = await startFillEnvironment();
    const session = await env.page.context().newCDPSession(env.page);
    targetId = ((await session.send('Target.getTargetInfo')) as { targetInfo: { targetId: string } }).targetInfo.targetId;
    await session.detach();
  });
  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await env?.close();
  });

  async function mint(body: Record<string, unknown> = {}): Promise<{ id: string; grant: string }> {
    const res = await env.t.request('POST', `/api/v2/vaults/${env.vaultId}/grants`, {
      key: env.key,
      body: { expires_in: 600, cdp_endpoint: env.chrome.cdpEndpoint, target_id: targetId, ...body },
    });
    expect(res.status).toBe(201);
    return res.body;
  }
  async function overHttp(grant: string): Promise<Client> {
    const client = await httpClient(env.t.url, grant, record);
    clients.push(client);
    return client;
  }
  async function overStdio(grant: string, extraEnv: Record<string, string> = {}): Promise<Client> {
    const { client, stderr } = await stdioClient(
      process.execPath,
      [BIN, 'mcp', '--url', env.t.url],
      { SESAME_GRANT: grant, ...extraEnv },
      record,
    );
    clients.push(client);
    stderrs.push(stderr);
    return client;
  }

  const open = (host: string, path: string) => env.page.goto(env.site.url(host, path));
  const $ = (selector: string) => env.page.locator(selector);
  async function centre(target: Locator): Promise<{ x: number; y: number }> {
    const box = await target.boundingBox();
    if (!box) throw new Error('not visible');
    return { x: Math.round(box.x + box.width / 2), y: Math.round(box.y + box.height / 2) };
  }
  const fill = async (client: Client, target: Locator, field: string) =>
    (await callTool(client, 'fill_secret_at', { ...(await centre(target)), field })).structuredContent;
  const click = async (target: Locator) => {
    const { x, y } = await centre(target);
    await env.page.mouse.click(x, y);
  };

  /** The whole two-step login of /totp through `client`; returns the code it typed. */
  async function signIn(client: Client): Promise<string> {
    await open(HOSTS.login, '/totp');
    const listed = await callTool(client, 'list_secrets');
    expect(listed.isError).toBeUndefined();
    expect(listed.structuredContent).toEqual({
      origin: `http://${HOSTS.login}:${env.site.port}`,
      fields: [
        { field: 'username', kind: 'text', ambiguous: false },
        { field: 'password', kind: 'concealed', ambiguous: false },
        { field: 'totp', kind: 'totp', ambiguous: false },
        { field: 'pin', kind: 'concealed', ambiguous: false },
      ],
    });
    expect(JSON.parse(textOf(listed))).toEqual(listed.structuredContent);
    expect(await fill(client, $('#username'), 'username')).toEqual({ filled: true, field: 'username' });
    expect(await fill(client, $('#password'), 'password')).toEqual({ filled: true, field: 'password' });
    await click($('#submit'));
    await $('#code').waitFor();
    expect(await fill(client, $('#code'), 'totp')).toEqual({ filled: true, field: 'totp' });
    const code = await $('#code').inputValue();
    codes.push(code);
    await click($('#submit'));
    await expect.poll(() => $('#result').textContent()).toBe('Signed in as login-user');
    expect(env.site.signIns.at(-1)).toEqual({ host: HOSTS.login, page: 'totp', username: 'login-user' });
    return code;
  }

  const trail = async (limit: number) =>
    (await env.t.request('GET', `/api/v2/vaults/${env.vaultId}/events?limit=${limit}`, { key: env.key })).body.events as Record<
      string,
      unknown
    >[];
  /** What an event says, without its id, time and the credential's id. */
  const shape = ({ action, field, origin, item_id, outcome, reason, actor }: Record<string, unknown>) => ({
    action,
    field,
    origin,
    item_id,
    outcome,
    reason,
    actor: (actor as { type: string }).type,
  });

  it('signs in with username, password and TOTP over Streamable HTTP, with the same audit trail as over HTTP', async () => {
    const { id, grant } = await mint();
    const client = await overHttp(grant);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['list_secrets', 'fill_secret_at']);
    const code = await signIn(client);
    expect(parseTotp(env.accounts.login?.totp ?? '').validate({ token: code, window: 1 })).not.toBeNull();
    const viaMcp = await trail(4);
    for (const event of viaMcp) expect(event.actor).toEqual({ type: 'grant', id });

    // The same sign-in over the HTTP routes with a bound grant: event for event the same.
    const http = await mint();
    const call = (action: string, body: Record<string, unknown>) =>
      env.t.request('POST', `/api/v2/vaults/${env.vaultId}/${action}`, { key: http.grant, body });
    await open(HOSTS.login, '/totp');
    expect((await call('list-secrets', {})).status).toBe(200);
    expect((await call('fill', { ...(await centre($('#username'))), field: 'username' })).body.filled).toBe(true);
    expect((await call('fill', { ...(await centre($('#password'))), field: 'password' })).body.filled).toBe(true);
    await click($('#submit'));
    await $('#code').waitFor();
    expect((await call('fill', { ...(await centre($('#code'))), field: 'totp' })).body.filled).toBe(true);
    codes.push(await $('#code').inputValue());
    expect((await trail(4)).map(shape)).toEqual(viaMcp.map(shape));
    expect(viaMcp.map((e) => `${e.action}${e.field ? `(${e.field})` : ''}:${e.outcome}`)).toEqual([
      'fill(totp):ok',
      'fill(password):ok',
      'fill(username):ok',
      'list_secrets:ok',
    ]);
    const grants = (await env.t.request('GET', `/api/v2/vaults/${env.vaultId}/grants`, { key: env.key })).body.grants;
    expect(grants.find((g: { id: string }) => g.id === id)).toMatchObject({
      fills_used: 3,
      cdp_endpoint: env.chrome.cdpEndpoint,
      target_id: targetId,
    });
  });

  it('signs in over stdio (sesame mcp), which answers tools/list itself and forwards the calls', async () => {
    const { grant } = await mint();
    const client = await overStdio(grant);
    expect(client.getServerVersion()?.name).toBe('sesame');
    expect(client.getInstructions()).toMatch(/never returned/);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['list_secrets', 'fill_secret_at']);
    expect(tools[1]?.inputSchema.required).toEqual(['x', 'y', 'field']);
    await signIn(client);
    // The server's protocol error for an unknown tool comes through as one.
    await expect(callTool(client, 'read_password')).rejects.toSatisfy(
      (err) => err instanceof McpError && err.code === ErrorCode.InvalidParams,
    );
  });

  it('answers a refusal as a normal result with its reason, over both transports', async () => {
    const { grant } = await mint();
    for (const client of [await overHttp(grant), await overStdio(grant)]) {
      await open(HOSTS.login, '/text-password');
      const refused = await callTool(client, 'fill_secret_at', { ...(await centre($('#password'))), field: 'password' });
      expect(refused.isError).toBeUndefined();
      expect(refused.structuredContent).toEqual({
        filled: false,
        field: 'password',
        reason: 'not_a_password_input',
        detail: 'Concealed values are filled only into password inputs, so they never show on screen.',
      });
      expect(await $('#password').inputValue()).toBe('');
      await open('insecure.test', '/login');
      expect((await callTool(client, 'list_secrets')).structuredContent).toMatchObject({ fields: [], reason: 'insecure_page' });
    }
  });

  it('keeps to the grant: its domains, its fill count, its expiry', async () => {
    const { id, grant } = await mint({ allowed_domains: [HOSTS.login], max_fills: 1 });
    const client = await overStdio(grant);
    await open(HOSTS.parent, '/login');
    expect((await callTool(client, 'list_secrets')).structuredContent).toMatchObject({ reason: 'domain_not_allowed' });
    await open(HOSTS.login, '/login');
    expect(await fill(client, $('#username'), 'username')).toEqual({ filled: true, field: 'username' });
    expect(await fill(client, $('#password'), 'password')).toMatchObject({ filled: false, reason: 'grant_expired' });
    expect(await $('#password').inputValue()).toBe('');
    await env.t.server.database.db
      .updateTable('grants')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', id)
      .execute();
    expect(await fill(client, $('#password'), 'password')).toEqual({
      filled: false,
      field: 'password',
      reason: 'grant_expired',
      detail: 'This grant has expired; ask for a new one.',
    });
    // Revoked: the stdio bridge says so in a sentence the model can act on.
    await env.t.request('DELETE', `/api/v2/vaults/${env.vaultId}/grants/${id}`, { key: env.key });
    const refused = await callTool(client, 'list_secrets');
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/refused the grant in SESAME_GRANT.*Ask the user for a new grant/);
  });

  it('types nothing once the client hangs up during a fill, and records why', async () => {
    const { grant } = await mint();
    await open(HOSTS.login, '/login');
    const point = await centre($('#password'));
    env.t.fixture.setFaults({ latency_ms: 1500 }); // 1Password is slow: the value arrives after the client left
    try {
      const controller = new AbortController();
      const pending = fetch(`${env.t.url}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${grant}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'fill_secret_at', arguments: { ...point, field: 'password' } },
        }),
        signal: controller.signal,
      }).catch((err: Error) => err.name);
      await new Promise((resolve) => setTimeout(resolve, 400));
      controller.abort();
      expect(await pending).toBe('AbortError');
      await expect.poll(async () => (await trail(1))[0]?.reason, { timeout: 5_000 }).toBe('client_closed');
      expect((await trail(1))[0]).toMatchObject({ action: 'fill', field: 'password', outcome: 'failed' });
      expect(env.t.logs.some((line) => line.includes('"msg":"client closed the connection"'))).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 2_500)); // the value has long arrived from 1Password
      expect(await $('#password').inputValue()).toBe('');
    } finally {
      env.t.fixture.setFaults({});
    }
  });

  it('stdio: a call that outlives SESAME_MCP_TIMEOUT_MS is stopped, and the model is told the field may not be filled', async () => {
    const { grant } = await mint();
    const client = await overStdio(grant, { SESAME_MCP_TIMEOUT_MS: '1000' });
    await open(HOSTS.login, '/login');
    env.t.fixture.setFaults({ latency_ms: 2500 });
    try {
      const result = await callTool(client, 'fill_secret_at', { ...(await centre($('#password'))), field: 'password' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/did not answer within 1 s.*may or may not have been filled/);
      await expect.poll(async () => (await trail(1))[0]?.reason, { timeout: 5_000 }).toBe('client_closed');
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(await $('#password').inputValue()).toBe('');
    } finally {
      env.t.fixture.setFaults({});
    }
  });

  it('lets no secret or code into any MCP message, HTTP exchange, log line, stderr line or audit event', async () => {
    const secrets = env.secrets();
    expect(secrets.length).toBeGreaterThan(10);
    expect(codes.length).toBeGreaterThanOrEqual(3);
    expect(record.messages.length).toBeGreaterThan(40);
    const events = await env.t.request('GET', `/api/v2/vaults/${env.vaultId}/events?limit=1000`, { key: env.key });
    const haystacks: [string, string][] = [
      ['MCP messages', record.messages.join('\n')],
      ['HTTP exchanges', record.http.join('\n')],
      ['server log lines', env.t.logs.join('\n')],
      ['stdio stderr', stderrs.map((s) => s()).join('\n')],
      ['audit events', events.text],
    ];
    for (const [where, text] of haystacks) {
      for (const secret of secrets) {
        for (const form of encodedForms(secret)) expect(text.includes(form), `a secret in the ${where}`).toBe(false);
      }
      for (const code of codes) expect(new RegExp(`(?<!\\d)${code}(?!\\d)`).test(text), `a TOTP code in the ${where}`).toBe(false);
    }
    // Grants appear only where they belong: the Authorization header of the requests that carry them.
    const grantsInLogs = env.t.logs.filter((line) => /sesame_gr_/.test(line));
    expect(grantsInLogs).toEqual([]);
  });
});
