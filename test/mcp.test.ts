// The MCP endpoint through the real server, on both databases, with the SDK's own Client: what it
// admits (browser-bound grants only), what it answers before any tool runs (initialize, tools/list
// with their schemas), and the tool results that need no browser (expiry, an unbound grant, a
// browser that does not answer, bad arguments, the rate limit). Sign-ins in a real browser, stdio and
// the canary checks: test/e2e/mcp.test.ts.
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, LATEST_PROTOCOL_VERSION, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REFUSAL_REASONS } from '../src/modules/fill/refusals.js';
import { callTool, httpClient, newRecord, textOf } from './helpers/mcp.js';
import { describeDialects, startTestServer, type TestServer } from './helpers/server.js';
import { createVault, VAULTS } from './helpers/vaults.js';

// Allowed (loopback) but nothing listens there: a browser that does not answer.
const DEAD_BROWSER = 'http://127.0.0.1:9';
const RATE_LIMIT = 6;

const mcpHeaders = (grant: string) => ({
  authorization: `Bearer ${grant}`,
  accept: 'application/json, text/event-stream',
  'content-type': 'application/json',
});
const toolsList = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

describeDialects('MCP endpoint (%s)', (dialect) => {
  let t: TestServer;
  let key: string;
  let vaultId: string;

  beforeAll(async () => {
    t = await startTestServer({ dialect });
    ({ key } = await t.newOrg());
    vaultId = (await createVault(t, key)).vault.id;
  });
  afterAll(() => t?.close());

  async function mint(body: Record<string, unknown> = { cdp_endpoint: DEAD_BROWSER }): Promise<{ id: string; grant: string }> {
    const res = await t.request('POST', `${VAULTS}/${vaultId}/grants`, { key, body: { expires_in: 600, ...body } });
    expect(res.status).toBe(201);
    return res.body;
  }
  const events = async (limit = 5) => (await t.request('GET', `${VAULTS}/${vaultId}/events?limit=${limit}`, { key })).body.events;

  it('initializes and lists both tools with their input and output schemas', async () => {
    const { grant } = await mint();
    const record = newRecord();
    const client = await httpClient(t.url, grant, record);
    expect(client.getServerVersion()).toEqual({ name: 'sesame', title: 'Sesame', version: '0.1.0' });
    expect(client.getServerCapabilities()).toEqual({ tools: { listChanged: false } });
    expect(client.getInstructions()).toMatch(/never returned/);
    // Stateless: no session id, and the negotiated version is the SDK's latest.
    expect(record.http.join('\n')).not.toMatch(/mcp-session-id/i);
    expect(record.messages.find((m) => m.includes('"protocolVersion"') && m.startsWith('<-'))).toContain(LATEST_PROTOCOL_VERSION);

    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(['list_secrets', 'fill_secret_at']);
    const [list, fill] = tools;
    expect(list?.inputSchema).toEqual({ type: 'object', properties: {}, additionalProperties: false });
    expect(list?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(fill?.inputSchema).toMatchObject({ type: 'object', required: ['x', 'y', 'field'], additionalProperties: false });
    expect(Object.keys(fill?.inputSchema.properties ?? {})).toEqual(['x', 'y', 'field', 'account']); // never the browser: the grant names it
    expect(fill?.inputSchema.properties?.x).toMatchObject({ type: 'number', minimum: 0, maximum: 100_000 });
    expect(JSON.stringify(tools)).not.toMatch(/x-pattern-message|cdp_endpoint|target_id/);
    const reasons = (schema: unknown) =>
      ((schema as { properties: { reason: { anyOf: { const: string }[] } } }).properties.reason.anyOf ?? []).map((r) => r.const);
    expect(reasons(list?.outputSchema)).toEqual([...REFUSAL_REASONS]);
    expect(reasons(fill?.outputSchema)).toEqual([...REFUSAL_REASONS]);
    expect(fill?.outputSchema).toMatchObject({ required: ['filled', 'field'] });
    for (const tool of tools) {
      expect(tool.description).toMatch(/never returned|Never returns a value/);
      expect(tool.description).toContain('grant_expired');
    }
    await client.close();
  });

  it('reports a browser that does not answer as a tool error without structured content, audited like HTTP', async () => {
    const { id, grant } = await mint();
    const client = await httpClient(t.url, grant);
    const listed = await callTool(client, 'list_secrets');
    expect(listed.isError).toBe(true);
    expect(listed.structuredContent).toBeUndefined();
    expect(textOf(listed)).toMatch(/^The browser could not be reached or went away \(.+\)\. Nothing more was typed\./);
    const filled = await callTool(client, 'fill_secret_at', { x: 10, y: 20, field: 'password' });
    expect(filled.isError).toBe(true);
    const trail = await events(2);
    expect(trail.map((e: Record<string, unknown>) => [e.action, e.field, e.outcome, e.reason])).toEqual([
      ['fill', 'password', 'failed', 'browser_unreachable'],
      ['list_secrets', null, 'failed', 'browser_unreachable'],
    ]);
    for (const event of trail) expect(event.actor).toEqual({ type: 'grant', id });
    // The same call over HTTP with the same grant: the same event.
    const http = await t.request('POST', `${VAULTS}/${vaultId}/list-secrets`, { key: grant, body: {} });
    expect(http.status).toBe(502);
    expect((await events(1))[0]).toMatchObject({ action: 'list_secrets', outcome: 'failed', reason: 'browser_unreachable' });
    await client.close();
  });

  it('answers grant_expired as a normal result once the grant has expired, before touching the browser', async () => {
    const { id, grant } = await mint();
    const client = await httpClient(t.url, grant); // connected while still valid
    await t.server.database.db
      .updateTable('grants')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', id)
      .execute();
    const filled = await callTool(client, 'fill_secret_at', { x: 10, y: 20, field: 'password' });
    expect(filled.isError).toBeUndefined();
    const refusal = { filled: false, field: 'password', reason: 'grant_expired', detail: 'This grant has expired; ask for a new one.' };
    expect(filled.structuredContent).toEqual(refusal);
    expect(JSON.parse(textOf(filled))).toEqual(refusal);
    const listed = await callTool(client, 'list_secrets');
    expect(listed.structuredContent).toMatchObject({ origin: null, fields: [], reason: 'grant_expired' });
    // An expired grant still connects (as over HTTP, it is told why rather than refused).
    const later = await httpClient(t.url, grant);
    expect((await callTool(later, 'list_secrets')).structuredContent).toMatchObject({ reason: 'grant_expired' });
    expect((await events(3)).map((e: Record<string, unknown>) => `${e.action}:${e.outcome}:${e.reason}`)).toEqual([
      'list_secrets:refused:grant_expired',
      'list_secrets:refused:grant_expired',
      'fill:refused:grant_expired',
    ]);
    await client.close();
    await later.close();
  });

  it('tells the holder of an unbound grant to ask for a browser-bound one, and does nothing', async () => {
    const { grant } = await mint({});
    const before = (await events(1000)).length;
    const client = await httpClient(t.url, grant);
    expect((await client.listTools()).tools).toHaveLength(2);
    for (const result of [
      await callTool(client, 'list_secrets'),
      await callTool(client, 'fill_secret_at', { x: 1, y: 1, field: 'username' }),
    ]) {
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toBeUndefined();
      expect(textOf(result)).toMatch(/not bound to a browser.*Ask the user for a grant bound to your browser/);
    }
    expect((await events(1000)).length).toBe(before);
    await client.close();
  });

  it('refuses anything but a grant: no credential, an API key, an unknown or revoked grant (401, WWW-Authenticate: Bearer)', async () => {
    const revoked = await mint();
    const client = await httpClient(t.url, revoked.grant);
    expect((await t.request('DELETE', `${VAULTS}/${vaultId}/grants/${revoked.id}`, { key })).status).toBe(204);
    await expect(client.listTools()).rejects.toSatisfy((err) => err instanceof StreamableHTTPError && err.code === 401);
    const unknown = `sesame_gr_${'A'.repeat(43)}`;
    for (const credential of [key, unknown, revoked.grant, 'nonsense']) {
      await expect(httpClient(t.url, credential)).rejects.toSatisfy((err) => err instanceof StreamableHTTPError && err.code === 401);
      const res = await t.request('POST', '/mcp', { headers: mcpHeaders(credential), body: toolsList });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(res.body).toEqual({ detail: 'Authentication required' });
    }
    const anonymous = await t.request('POST', '/mcp', { headers: { accept: 'application/json, text/event-stream' }, body: toolsList });
    expect(anonymous.status).toBe(401);
  });

  it('refuses requests from web pages (Origin), batches, bodies that are not JSON-RPC, and other methods', async () => {
    const { grant } = await mint();
    const post = (headers: Record<string, string>, body?: unknown, rawBody?: string) =>
      t.request('POST', '/mcp', { headers: { ...mcpHeaders(grant), ...headers }, body, rawBody });
    for (const origin of ['http://evil.example', 'null', t.url]) {
      const res = await post({ origin }, toolsList);
      expect(res.status, origin).toBe(403);
      expect(res.body.detail).toMatch(/web pages/);
    }
    const batch = await post({}, [toolsList, { ...toolsList, id: 2 }]);
    expect(batch.status).toBe(400);
    expect(batch.body).toEqual({ jsonrpc: '2.0', error: { code: -32600, message: expect.stringMatching(/batches/) }, id: null });
    for (const raw of ['{"jsonrpc":', '', '   ']) {
      const res = await post({}, undefined, raw);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe(-32700);
    }
    expect((await post({}, { hello: 'world' })).body.error.code).toBe(-32700); // not a JSON-RPC message
    expect((await post({ accept: 'application/json' }, toolsList)).status).toBe(406);
    expect((await post({ 'content-type': 'text/plain' }, undefined, JSON.stringify(toolsList))).status).toBe(415);
    expect((await post({ 'mcp-protocol-version': '1999-01-01' }, toolsList)).status).toBe(400);
    // The one call a bare curl makes works without initialize (stateless).
    const listed = await post({}, toolsList);
    expect(listed.status).toBe(200);
    expect(listed.headers.get('content-type')).toMatch(/^application\/json/);
    expect(listed.body.result.tools).toHaveLength(2);
    for (const method of ['GET', 'DELETE', 'PUT']) {
      const res = await t.request(method, '/mcp', { headers: mcpHeaders(grant) });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    }
    const huge = await post({}, undefined, JSON.stringify({ ...toolsList, params: { pad: 'x'.repeat(70_000) } }));
    expect(huge.status).toBe(413);
  });

  it('never answers a 5xx to malformed JSON-RPC, and answers each with JSON', async () => {
    const { grant } = await mint();
    const call = (params: unknown) => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params });
    const messages: unknown[] = [
      call({ name: 123 }),
      call({ name: 'fill_secret_at', arguments: 'x=1' }),
      call({ name: 'fill_secret_at', arguments: [1, 2] }),
      call({ name: 'fill_secret_at', arguments: null }),
      call({ name: 'fill_secret_at', arguments: { x: 1e308, y: Number.MAX_VALUE, field: 'password'.repeat(30) } }),
      call({ name: 'fill_secret_at', arguments: { x: 1, y: 1, field: 'pass\u0000word' } }),
      call({ name: 'list_secrets', arguments: JSON.parse('{"__proto__": {"polluted": true}}') }),
      call(null),
      call('list_secrets'),
      { jsonrpc: '2.0', id: { nested: true }, method: 'tools/list' },
      { jsonrpc: '1.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 1, method: 'resources/list' },
      { jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name: 'x' } },
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 42 } },
      { jsonrpc: '2.0', id: 1, method: 'x'.repeat(10_000) },
      { jsonrpc: '2.0', id: 1, result: {} },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
      42,
      'tools/list',
      null,
    ];
    for (const message of messages) {
      const res = await t.request('POST', '/mcp', { headers: mcpHeaders(grant), rawBody: JSON.stringify(message) });
      const label = JSON.stringify(message).slice(0, 80);
      expect(res.status, label).toBeLessThan(500);
      if (res.status !== 202) expect(res.body, label).toBeTypeOf('object');
    }
    expect(t.logs.filter((line) => /"level":50/.test(line))).toEqual([]);
  });

  it('answers bad arguments as a tool error the model can act on, and an unknown tool as a protocol error', async () => {
    const { grant } = await mint();
    const client = await httpClient(t.url, grant);
    const bad = await callTool(client, 'fill_secret_at', { x: -1, y: 'top', field: '', acount: 'alice@example.com' });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/^Invalid arguments for fill_secret_at: /);
    for (const problem of [
      'unknown argument "acount"',
      '"x" must be >= 0',
      '"y" must be number',
      '"field" must NOT have fewer than 1 characters',
    ]) {
      expect(textOf(bad)).toContain(problem);
    }
    expect(textOf(bad)).not.toContain('alice@example.com');
    expect(textOf(await callTool(client, 'fill_secret_at', { x: 1 }))).toContain('"field" is required');
    expect((await callTool(client, 'list_secrets', { cdp_endpoint: 'http://127.0.0.1:9222' })).isError).toBe(true);
    await expect(callTool(client, 'read_password')).rejects.toSatisfy(
      (err) => err instanceof McpError && err.code === ErrorCode.InvalidParams,
    );
    await client.close();
  });

  it(`counts each tool call against the grant's rate limit (shared with its HTTP calls), nothing else`, async () => {
    const limited = await startTestServer({ dialect, env: { SESAME_RATE_LIMIT: String(RATE_LIMIT), SESAME_RATE_LIMIT_WINDOW_S: '3600' } });
    try {
      const org = await limited.newOrg();
      const vault = (await createVault(limited, org.key)).vault.id;
      const minted = await limited.request('POST', `${VAULTS}/${vault}/grants`, {
        key: org.key,
        body: { expires_in: 600, cdp_endpoint: DEAD_BROWSER },
      });
      const { grant } = minted.body;
      const client = await httpClient(limited.url, grant);
      for (let i = 0; i < 3; i++) await client.listTools(); // initialize and tools/list are not counted
      for (let i = 0; i < RATE_LIMIT - 1; i++) expect((await callTool(client, 'list_secrets')).isError, `call ${i}`).toBe(true); // dead browser
      const http = () => limited.request('POST', `${VAULTS}/${vault}/list-secrets`, { key: grant, body: {} });
      expect((await http()).status).toBe(502);
      const refused = await callTool(client, 'fill_secret_at', { x: 1, y: 1, field: 'username' });
      expect(refused.isError).toBe(true);
      expect(refused.structuredContent).toBeUndefined();
      expect(textOf(refused)).toMatch(
        /^Too many requests: this credential may make 6 requests per 3600 s\. Nothing was done; retry in \d+ s\./,
      );
      expect((await http()).status).toBe(429);
      // Refused calls are not audited: nothing was attempted.
      const trail = (await limited.request('GET', `${VAULTS}/${vault}/events?limit=100`, { key: org.key })).body.events;
      expect(trail.filter((e: { action: string }) => e.action !== 'vault.create' && e.action !== 'grant.create')).toHaveLength(RATE_LIMIT);
      await client.close();
    } finally {
      await limited.close();
    }
  });

  it('logs one line per request with the MCP method and tool, the org, and never the grant', async () => {
    const { grant } = await mint();
    const client = await httpClient(t.url, grant);
    await callTool(client, 'list_secrets');
    await client.close();
    const lines = t.logs.filter((line) => line.includes('"route":"/mcp"')).map((line) => JSON.parse(line));
    expect(lines.map((l) => l.mcp)).toEqual(expect.arrayContaining(['initialize', 'notifications/initialized', 'tools/call list_secrets']));
    expect(lines.find((l) => l.mcp === 'tools/call list_secrets')).toMatchObject({
      method: 'POST',
      status: 200,
      org_id: expect.any(String),
    });
    const text = t.logs.join('\n');
    expect(text).not.toContain(grant.slice('sesame_gr_'.length));
  });
});
