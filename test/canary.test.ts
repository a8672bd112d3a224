// The canary leak suite (issue "secrets at rest and in motion"). Unique canaries — service account
// tokens, an item password and TOTP seed in the fixture, the master key, API keys and a grant — go
// through every endpoint of a real `sesame serve` process (logging at `trace`, below `debug`):
// successes, malformed and refused requests, 1Password faults, a real fill into Chromium, and a
// kill -9 in the middle of a request followed by a restart on the same database. Then every response
// body and header, every log line, the processes' stdout and stderr, the raw SQLite files (WAL
// included) and a pg_dump are searched for each canary in plain, base64, base64url, hex and
// URL-encoded form. Zero hits.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Secret } from 'otpauth';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { scriptedAgent } from '../src/demo/agent.js';
import { launchChromium } from '../src/demo/chromium.js';
import { HOSTS, startSite } from '../src/demo/site.js';
import { createAuthModule } from '../src/modules/auth/index.js';
import { encodeToken, fakeTokenPayload } from '../src/providers/onepassword/fake-token.js';
import { encodedForms, findCanaries, pgDump, responseText, sqliteFilesText, tokenForms } from './helpers/canary.js';
import { BIN, serve as spawnServe } from './helpers/cluster.js';
import { OP_VAULT, OTHER_OP_VAULT, TestFixture } from './helpers/fixture.js';
import { createTestPostgres } from './helpers/postgres.js';
import { sendRaw } from './helpers/raw-http.js';
import { describeDialects, httpRequest, type TestResponse } from './helpers/server.js';
import { createBody, MISSING_ID, sleep, VAULTS } from './helpers/vaults.js';

const run = promisify(execFile);

describe('the canary search', () => {
  it('finds a secret in each encoding, wherever it sits inside a longer encoded text', () => {
    const secret = `canary-${randomBytes(9).toString('hex')}`;
    const forms = encodedForms(secret);
    for (const prefix of ['', 'a', 'ab', 'abc']) {
      const text = `${prefix}${secret}"}`;
      for (const encoding of ['base64', 'base64url', 'hex'] as const) {
        expect(findCanaries(Buffer.from(text).toString(encoding), forms), `${encoding} after ${prefix.length}`).not.toEqual([]);
      }
      expect(findCanaries(encodeURIComponent(`x=${text}`), forms)).not.toEqual([]);
    }
    expect(findCanaries(Buffer.from(secret).toString('hex').toUpperCase(), forms)).not.toEqual([]);
    expect(findCanaries(`canary-${randomBytes(9).toString('hex')}`, forms)).toEqual([]);
    const token = encodeToken(fakeTokenPayload({ seed: secret }));
    const credentials = JSON.parse(Buffer.from(token.slice(4), 'base64').toString()) as { secretKey: string; muk: { k: string } };
    for (const inner of [
      token.slice(4),
      credentials.secretKey,
      credentials.muk.k,
      Buffer.from(token.slice(4), 'base64').toString('base64url'),
    ]) {
      expect(findCanaries(`...${inner}...`, tokenForms(token))).not.toEqual([]);
    }
  });
});

describeDialects('canary leak suite (%s)', (dialect) => {
  const cleanups: (() => unknown)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('finds no secret in any response, header, log line, output or stored byte', { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-canary-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

    // The canaries.
    const seed = `canary-${dialect}-${randomBytes(8).toString('hex')}`;
    const fixture = new TestFixture();
    cleanups.push(() => fixture.remove());
    const main = fixture.token([OP_VAULT, OTHER_OP_VAULT], 'active', `${seed}-main`);
    const rotated = fixture.token([OP_VAULT, OTHER_OP_VAULT], 'active', `${seed}-rotated`);
    // Used first in the crash (step 6), so it is not one that step 5's rate limit left backing off.
    const incoming = fixture.token([OP_VAULT, OTHER_OP_VAULT], 'active', `${seed}-incoming`);
    const revoked = fixture.token([OP_VAULT], 'revoked', `${seed}-revoked`);
    const expired = fixture.token([OP_VAULT], 'expired', `${seed}-expired`);
    const noAccess = fixture.token([OTHER_OP_VAULT], 'active', `${seed}-noaccess`);
    const unknown = encodeToken(fakeTokenPayload({ seed: `${seed}-unknown` }));
    const malformed = encodeToken(fakeTokenPayload({ seed: `${seed}-malformed`, overrides: { secretKey: undefined } }));
    const tokens = [main, rotated, incoming, revoked, expired, noAccess, unknown, malformed];
    const password = `Canary-Pw-${randomBytes(12).toString('base64url')}`;
    const totpSeed = new Secret({ size: 20 }).base32;
    const totpUri = `otpauth://totp/Canary:alice?secret=${totpSeed}&period=30&digits=6`;
    const masterKey = randomBytes(32);

    // The demo site: its /totp page asks for username and password, then a one-time code.
    const site = await startSite([{ username: 'canary-user', password, totp: totpUri }]);
    cleanups.push(() => site.close());
    (fixture.data.vaults[OP_VAULT] as { items: unknown[] }).items.push({
      id: 'canaryitem0000000000000001',
      title: 'Canary login',
      category: 'Login',
      updated_at: '2026-01-01T00:00:00Z',
      websites: [{ url: site.url(HOSTS.parent), autofill: 'AnywhereOnWebsite' }],
      fields: [
        { id: 'username', type: 'text', label: 'username', value: 'canary-user' },
        { id: 'password', type: 'concealed', label: 'password', value: password },
        { id: 'otp', type: 'totp', label: 'one-time password', value: totpUri },
      ],
    });
    fixture.write();

    let databaseUrl: string;
    let sqlitePath: string | undefined;
    if (dialect === 'postgres') {
      const postgres = await createTestPostgres();
      cleanups.push(() => postgres.drop());
      databaseUrl = postgres.url;
    } else {
      sqlitePath = join(dir, 'data', 'sesame.db');
      databaseUrl = `sqlite:${sqlitePath}`;
    }
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      DATABASE_URL: databaseUrl,
      SESAME_MASTER_KEY: `k1:${masterKey.toString('base64')}`,
      SESAME_ONEPASSWORD_FIXTURE: fixture.path,
      SESAME_PROVIDER_CALL_TIMEOUT_MS: '500',
      SESAME_PROVIDER_LOGIN_TIMEOUT_MS: '500',
      PORT: '0',
      LOG_LEVEL: 'trace',
    };

    // Operator commands: their output is searched too (only the API key command prints a credential, by design).
    const outputs: { name: string; text: string; holdsCredentials?: boolean }[] = [];
    const sesame = async (args: string[]) => {
      const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env });
      outputs.push({ name: `sesame ${args[0]} ${args[1]} (stdout)`, text: stdout, holdsCredentials: args[0] === 'api-key' });
      outputs.push({ name: `sesame ${args[0]} ${args[1]} (stderr)`, text: stderr });
      return JSON.parse(stdout);
    };
    const orgA = await sesame(['org', 'create', '--name', 'canary-a']);
    const keyA: string = (await sesame(['api-key', 'create', '--org', orgA.id])).key;
    // The other credentials are made as those commands make them, without paying for more processes.
    const operator = openDatabase(loadConfig(env).database);
    const auth = createAuthModule({ db: operator.db }).service;
    const orgB = await auth.createOrganization('canary-b');
    const keyB = (await auth.issueApiKey(orgB.id)).key;
    const revokedKey = await auth.issueApiKey(orgA.id);
    await auth.revokeApiKey(revokedKey.id);
    await operator.close();

    const [chrome, first] = await Promise.all([launchChromium(), spawnServe(env)]);
    cleanups.push(() => chrome.close());
    const eyes = await chromium.connectOverCDP(chrome.cdpEndpoint); // the agent's view: coordinates and clicks, never typing
    cleanups.push(() => eyes.close());
    const page = eyes.contexts()[0]?.pages()[0] ?? (await eyes.newPage());
    await page.goto(site.url(HOSTS.login, '/totp'));
    let server = first;
    const processes = [server];
    cleanups.push(() => {
      for (const p of processes) p.child.kill('SIGKILL');
    });

    const responses: { label: string; text: string; holdsGrant?: boolean }[] = [];
    const send = async (
      method: string,
      path: string,
      options: { key?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
    ): Promise<TestResponse> => {
      const result = await httpRequest(server.url, method, path, { ...options, key: options.key === undefined ? keyA : options.key });
      responses.push({ label: `${method} ${path.slice(0, 80)} → ${result.status}`, text: responseText(result) });
      // 502/503/504 name a dependency (browser, 1Password) that failed; a 500 would be a bug.
      expect(result.status, `${method} ${path.slice(0, 80)}: ${result.text.slice(0, 200)}`).not.toBe(500);
      return result;
    };
    const sendRawRecorded = async (request: Parameters<typeof sendRaw>[1]) => {
      const answer = await sendRaw(server.url, request);
      const text = answer ? `${answer.status}\n${answer.body.toString('latin1')}\n${JSON.stringify(answer.headers)}` : '(no answer)';
      responses.push({ label: `raw ${request.method} ${request.target.slice(0, 60)}`, text });
      return answer;
    };

    // 1. The vault API, successes first.
    const created = await send('POST', VAULTS, { body: createBody('canary', main), headers: { 'idempotency-key': 'canary-create' } });
    expect(created.status).toBe(201);
    const vaultId = created.body.id as string;
    expect((await send('POST', VAULTS, { body: createBody('canary', main), headers: { 'idempotency-key': 'canary-create' } })).status).toBe(
      201,
    );
    const spare = (await send('POST', VAULTS, { body: createBody('spare', rotated, OTHER_OP_VAULT) })).body.id as string;
    const ofB = (await send('POST', VAULTS, { key: keyB, body: createBody('of-b', main) })).body.id as string;
    expect((await send('GET', VAULTS)).body.total).toBe(2);
    expect((await send('GET', `${VAULTS}/${vaultId}`)).status).toBe(200);
    expect((await send('GET', `${VAULTS}/${vaultId}/health`)).body).toEqual({ ok: true, error: null });
    expect((await send('PATCH', `${VAULTS}/${vaultId}`, { body: { name: 'canary-renamed' } })).status).toBe(200);
    expect((await send('PATCH', `${VAULTS}/${vaultId}`, { body: { provider_config: { op_vault_id: OTHER_OP_VAULT } } })).status).toBe(200);
    expect((await send('PATCH', `${VAULTS}/${vaultId}`, { body: { provider_config: { op_vault_id: OP_VAULT } } })).status).toBe(200);
    expect(
      (await send('PUT', `${VAULTS}/${vaultId}/token`, { body: { token: rotated }, headers: { 'idempotency-key': 'r1' } })).status,
    ).toBe(204);
    expect(
      (await send('PUT', `${VAULTS}/${vaultId}/token`, { body: { token: rotated }, headers: { 'idempotency-key': 'r1' } })).status,
    ).toBe(204);
    expect((await send('PUT', `${VAULTS}/${vaultId}/token`, { body: { token: main } })).status).toBe(204);

    // 2. Grants, the agent actions on a real browser page, and the audit trail.
    const minted = await send('POST', `${VAULTS}/${vaultId}/grants`, { body: { expires_in: 600, max_fills: 20 } });
    expect(minted.status).toBe(201);
    responses[responses.length - 1] = { ...(responses.at(-1) as { label: string; text: string }), holdsGrant: true };
    const grant = minted.body.grant as string;
    const grantId = minted.body.id as string;
    const cdp = { cdp_endpoint: chrome.cdpEndpoint };
    const listed = await send('POST', `${VAULTS}/${vaultId}/list-secrets`, { body: cdp });
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.fields.map((f: { field: string }) => f.field)).toEqual(expect.arrayContaining(['username', 'password', 'totp']));
    // A scripted agent signs in with the grant: username, password, then the one-time code on the next page.
    const agent = scriptedAgent({ sesameUrl: server.url, credential: grant, vaultId, cdpEndpoint: chrome.cdpEndpoint, page });
    expect((await agent.fillAt(page.locator('#username'), 'username')).body).toEqual({ filled: true, field: 'username' });
    expect((await agent.fillAt(page.locator('#password'), 'password')).body).toEqual({ filled: true, field: 'password' });
    await Promise.all([page.waitForURL('**/totp'), agent.click(page.locator('#submit'))]);
    await page.locator('#code').waitFor();
    expect((await agent.fillAt(page.locator('#code'), 'totp')).body).toEqual({ filled: true, field: 'totp' });
    await Promise.all([page.waitForURL('**/totp/verify'), agent.click(page.locator('#submit'))]);
    // The site accepted password and code: the canaries really went through the server into the page.
    expect(site.signIns).toEqual([{ host: HOSTS.login, page: 'totp', username: 'canary-user' }]);
    await page.goto(site.url(HOSTS.login, '/login'));
    const box = await agent.centre(page.locator('#password'));
    expect(
      (
        await send('POST', `${VAULTS}/${vaultId}/fill`, {
          body: { ...cdp, ...(await agent.centre(page.locator('#username'))), field: 'password' },
        })
      ).body.filled,
    ).toBe(false);
    expect((await send('POST', `${VAULTS}/${vaultId}/fill`, { body: { ...cdp, ...box, field: 'pin' } })).body.filled).toBe(false);
    expect(
      (await send('POST', `${VAULTS}/${vaultId}/fill`, { key: grant, body: { ...cdp, x: 1, y: 1, field: 'password', account: main } }))
        .status,
    ).toBe(422);
    expect(
      (await send('POST', `${VAULTS}/${vaultId}/fill`, { body: { cdp_endpoint: 'http://10.9.8.7:9222', x: 1, y: 1, field: 'password' } }))
        .status,
    ).toBe(422);
    expect((await send('POST', `${VAULTS}/${vaultId}/list-secrets`, { body: { cdp_endpoint: 'http://127.0.0.1:1' } })).status).toBe(502);
    expect((await send('POST', `${VAULTS}/${spare}/fill`, { key: grant, body: { ...cdp, ...box, field: 'password' } })).status).toBe(401);
    expect((await send('GET', `${VAULTS}/${vaultId}/grants`)).status).toBe(200);
    expect((await send('GET', `${VAULTS}/${vaultId}/events`)).status).toBe(200);

    // 3. Malformed and refused requests carrying a token: body, headers, query, path, credentials.
    const malformedBodies: [unknown, number][] = [
      [createBody('', main), 422],
      [{ token: main }, 422],
      [{ name: 'x', provider_config: { op_vault_id: 'a b', token: main }, token: main, extra: { token: main } }, 422],
      [{ name: 'x', provider_config: 'nope', token: main }, 422],
      [[main], 422],
      [main, 422],
      [{ name: 'x', provider_config: { op_vault_id: OP_VAULT }, token: [main] }, 422],
      [{ name: 'x', provider_config: { op_vault_id: OP_VAULT }, token: { value: main } }, 422],
      [{ ...createBody('x', main), pad: 'p'.repeat(70 * 1024) }, 413],
      [createBody('canary-renamed', main), 409],
      [createBody('x', malformed), 422],
      [createBody('x', revoked), 422],
      [createBody('x', expired), 422],
      [createBody('x', unknown), 422],
      [createBody('x', noAccess), 422],
    ];
    for (const [body, status] of malformedBodies) expect((await send('POST', VAULTS, { body })).status).toBe(status);
    for (const rawBody of [`{"name": "x", "token": "${main}", `, `{"token": "${main}"}}`, `token=${encodeURIComponent(main)}`]) {
      expect((await send('POST', VAULTS, { rawBody, headers: { 'content-type': 'application/json' } })).status).toBe(422);
    }
    expect(
      (await send('POST', VAULTS, { rawBody: JSON.stringify(createBody('x', main)), headers: { 'content-type': 'text/plain' } })).status,
    ).toBe(415);
    expect((await send('POST', VAULTS, { body: createBody('x', main), headers: { 'idempotency-key': main } })).status).toBe(422);
    expect((await send('POST', VAULTS, { body: createBody('x', main), headers: { 'idempotency-key': 'canary-create' } })).status).toBe(422);
    expect((await send('PATCH', `${VAULTS}/${vaultId}`, { body: { token: main } })).status).toBe(422);
    expect((await send('PATCH', `${VAULTS}/${vaultId}`, { body: { name: null, token: rotated } })).status).toBe(422);
    expect((await send('PATCH', `${VAULTS}/${vaultId}`, { body: { provider_config: { op_vault_id: 'nosuchvault' } } })).status).toBe(422);
    for (const token of [revoked, expired, noAccess, malformed, unknown]) {
      expect((await send('PUT', `${VAULTS}/${vaultId}/token`, { body: { token } })).status).toBe(422);
    }
    expect((await send('PUT', `${VAULTS}/${vaultId}/token`, { body: main })).status).toBe(422);
    expect((await send('PUT', `${VAULTS}/${vaultId}/token`, { body: { token: 12345, extra: rotated } })).status).toBe(422);
    expect((await send('PUT', `${VAULTS}/${MISSING_ID}/token`, { body: { token: rotated } })).status).toBe(404);
    expect((await send('PUT', `${VAULTS}/${ofB}/token`, { body: { token: rotated } })).status).toBe(404);
    expect((await send('GET', `${VAULTS}/${encodeURIComponent(main)}`)).status).toBe(422);
    expect((await send('GET', `${VAULTS}/${encodeURIComponent(main)}/health`)).status).toBe(422);
    expect((await send('GET', `${VAULTS}?limit=${encodeURIComponent(main)}&offset=${encodeURIComponent(rotated)}`)).status).toBe(422);
    expect((await send('GET', `${VAULTS}?token=${encodeURIComponent(main)}`)).status).toBe(200);
    expect((await send('GET', `/nowhere/${encodeURIComponent(main)}?token=${encodeURIComponent(main)}`)).status).toBe(404);
    expect((await send('DELETE', VAULTS, { body: { token: main } })).status).toBe(405);
    for (const credential of [main, revokedKey.key, `${keyA}x`, grant.replace(/.$/, 'x')]) {
      expect((await send('GET', VAULTS, { key: credential })).status).toBe(401);
    }
    expect(
      (await send('GET', VAULTS, { key: null, headers: { authorization: `Basic ${Buffer.from(`u:${main}`).toString('base64')}` } })).status,
    ).toBe(401);
    expect(
      (await send('GET', VAULTS, { key: null, headers: { 'x-api-key': main, cookie: `token=${main}`, 'x-user-org': main } })).status,
    ).toBe(401);
    expect(
      (await send('GET', VAULTS, { headers: { 'x-token': main, 'user-agent': main, referer: `https://x.example/?t=${main}` } })).status,
    ).toBe(200);
    // Malformed HTTP: invalid UTF-8 around a token, a header too large to read, a broken request line.
    const invalidUtf8 = Buffer.concat([
      Buffer.from(`{"name":"x","provider_config":{"op_vault_id":"${OP_VAULT}"},"token":"${main}`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const authorization: [string, string] = ['Authorization', `Bearer ${keyA}`];
    expect(
      (
        await sendRawRecorded({
          method: 'POST',
          target: VAULTS,
          headers: [authorization, ['Content-Type', 'application/json']],
          body: invalidUtf8,
        })
      )?.status,
    ).toBe(422);
    expect(
      (await sendRawRecorded({ method: 'GET', target: VAULTS, headers: [authorization, ['X-Big', `${main}${'a'.repeat(70_000)}`]] }))
        ?.status,
    ).toBe(431);
    expect((await sendRawRecorded({ method: 'GET', target: `/api/v2/${main} x`, headers: [authorization] }))?.status).toBe(400);

    // 4. Every operation of the OpenAPI document, with tokens where a careless server might echo them.
    const openapi = (await send('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(openapi.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => [method.toUpperCase(), path] as const),
    );
    expect(operations.length).toBeGreaterThanOrEqual(7);
    const sacrificial = (await send('POST', VAULTS, { body: createBody('sacrificial', main) })).body.id as string;
    const sacrificialGrant = (await send('POST', `${VAULTS}/${sacrificial}/grants`, { body: { expires_in: 60 } })).body;
    responses[responses.length - 1] = { ...(responses.at(-1) as { label: string; text: string }), holdsGrant: true };
    for (const [method, template] of operations) {
      const path = (ids: { vault: string; grant: string }) =>
        template
          .replace('{vault_id}', ids.vault)
          .replace('{grant_id}', ids.grant)
          .replace(/\{[^}]+\}/g, encodeURIComponent(main));
      const real = path({ vault: sacrificial, grant: sacrificialGrant.id });
      const hasBody = ['POST', 'PUT', 'PATCH'].includes(method);
      const tokenBody = {
        token: main,
        extra: { token: main },
        value: [main],
        cdp_endpoint: chrome.cdpEndpoint,
        x: 1,
        y: 1,
        field: 'password',
      };
      await send(method, real, { key: null });
      await send(method, real, { key: main });
      await send(method, `${real}?limit=${encodeURIComponent(main)}&token=${encodeURIComponent(main)}`, {
        headers: { 'idempotency-key': main, 'x-token': main },
        ...(hasBody ? { body: tokenBody } : {}),
      });
      await send(method, path({ vault: encodeURIComponent(main), grant: encodeURIComponent(main) }), hasBody ? { body: tokenBody } : {});
      await send(method, path({ vault: MISSING_ID, grant: MISSING_ID }), hasBody ? { body: { token: main } } : {});
      if (hasBody) {
        await send(method, real, { rawBody: `{"token": "${main}", `, headers: { 'content-type': 'application/json' } });
        await send(method, real, { rawBody: main, headers: { 'content-type': 'text/plain' } });
      }
    }
    for (const path of ['/healthz', '/readyz', '/metrics', `/healthz?token=${encodeURIComponent(main)}`])
      await send('GET', path, { key: null });

    // 4b. The MCP endpoint (not in the OpenAPI document): a real fill through it, and tokens where a careless server might echo them.
    const bound = await send('POST', `${VAULTS}/${vaultId}/grants`, { body: { expires_in: 600, ...cdp } });
    responses[responses.length - 1] = { ...(responses.at(-1) as { label: string; text: string }), holdsGrant: true };
    const mcpHeaders = { accept: 'application/json, text/event-stream' };
    const toolCall = (args: Record<string, unknown>) => ({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'fill_secret_at', arguments: args },
    });
    await page.goto(site.url(HOSTS.login, '/login'));
    const mcpFill = await send('POST', '/mcp', {
      key: bound.body.grant,
      headers: mcpHeaders,
      body: toolCall({ ...box, field: 'password' }),
    });
    expect(mcpFill.body.result.structuredContent).toEqual({ filled: true, field: 'password' });
    for (const args of [
      { ...box, field: 'password', account: main },
      { x: main, y: 1, field: main },
      { ...box, field: 'password', token: main },
    ])
      expect((await send('POST', '/mcp', { key: bound.body.grant, headers: mcpHeaders, body: toolCall(args) })).status).toBe(200);
    await send('POST', '/mcp', { key: main, headers: mcpHeaders, body: toolCall({ ...box, field: 'password' }) });
    await send('POST', '/mcp', { key: bound.body.grant, headers: { ...mcpHeaders, origin: main }, body: toolCall({}) });
    await send('POST', '/mcp', {
      key: bound.body.grant,
      headers: { ...mcpHeaders, 'content-type': 'application/json' },
      rawBody: `{"x":"${main}", `,
    });
    await send('POST', '/mcp', { key: bound.body.grant, headers: mcpHeaders, body: [toolCall({ field: main })] });

    // 5. 1Password trouble: a token revoked behind our back, unreachable, too slow, rate limited (last:
    // after a rate limit Sesame holds the tokens it saw back for a minute, so they would not reach the fixture again).
    fixture.setState(main, 'revoked');
    expect((await send('GET', `${VAULTS}/${vaultId}/health`)).body.ok).toBe(false);
    expect((await send('POST', `${VAULTS}/${vaultId}/fill`, { body: { ...cdp, ...box, field: 'password' } })).status).toBeLessThan(600);
    expect((await send('PATCH', `${VAULTS}/${vaultId}`, { body: { provider_config: { op_vault_id: OTHER_OP_VAULT } } })).status).toBe(422);
    fixture.setState(main, 'active');
    const faults: Parameters<TestFixture['setFaults']>[0][] = [{ unavailable: true }, { latency_ms: 1500 }, { rate_limit_after: 0 }];
    for (const fault of faults) {
      fixture.setFaults(fault);
      expect((await send('POST', VAULTS, { body: createBody('x', main) })).status).toBe(503);
      expect((await send('PUT', `${VAULTS}/${vaultId}/token`, { body: { token: rotated } })).status).toBe(503);
      expect((await send('PATCH', `${VAULTS}/${vaultId}`, { body: { provider_config: { op_vault_id: OTHER_OP_VAULT } } })).status).toBe(
        503,
      );
      expect((await send('GET', `${VAULTS}/${vaultId}/health`)).body.ok).toBe(false);
      expect((await send('POST', `${VAULTS}/${vaultId}/list-secrets`, { body: cdp })).status).toBeLessThan(600);
      expect(
        (await send('POST', `${VAULTS}/${vaultId}/fill`, { key: grant, body: { ...cdp, ...box, field: 'password' } })).status,
      ).toBeLessThan(600);
    }
    fixture.setFaults({});
    expect((await send('DELETE', `${VAULTS}/${vaultId}/grants/${grantId}`)).status).toBe(204);
    expect((await send('POST', `${VAULTS}/${vaultId}/fill`, { key: grant, body: { ...cdp, ...box, field: 'password' } })).status).toBe(401);

    // 6. A crash: kill -9 while a rotation to a new token is waiting on 1Password, then restart on the same database.
    fixture.setFaults({ latency_ms: 400 });
    const inFlight = fetch(`${server.url}${VAULTS}/${spare}/token`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${keyA}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token: incoming }),
    }).catch((err: Error) => err);
    await sleep(150);
    server.child.kill('SIGKILL');
    expect(await server.exited).toBe('SIGKILL');
    expect(await inFlight).toBeInstanceOf(Error);
    const afterCrash = sqlitePath ? sqliteFilesText(sqlitePath) : await pgDump(databaseUrl);
    fixture.setFaults({});

    server = await spawnServe(env);
    processes.push(server);
    expect((await send('GET', `${VAULTS}/${vaultId}/health`)).body).toEqual({ ok: true, error: null });
    expect((await send('GET', `${VAULTS}/${spare}/health`)).body).toEqual({ ok: true, error: null });
    expect((await send('PUT', `${VAULTS}/${spare}/token`, { body: { token: main } })).status).toBe(204);
    expect((await send('POST', `${VAULTS}/${vaultId}/list-secrets`, { body: cdp })).status).toBe(200);
    expect((await send('DELETE', `${VAULTS}/${ofB}`, { key: keyB })).status).toBe(204);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const stored = sqlitePath ? sqliteFilesText(sqlitePath) : await pgDump(databaseUrl);

    // The search. Secrets must appear nowhere; credentials (API keys, grant) nowhere but where they are issued.
    const secretForms = [
      ...tokens.flatMap(tokenForms),
      ...encodedForms(password),
      ...encodedForms(totpSeed),
      ...encodedForms(totpUri),
      ...encodedForms(masterKey.toString('base64')),
      ...encodedForms(masterKey.toString('base64url')),
      masterKey.toString('hex'),
    ];
    const credentialForms = [keyA, keyB, revokedKey.key, grant, sacrificialGrant.grant].flatMap((credential: string) => [
      ...encodedForms(credential),
      ...encodedForms(credential.replace(/^sesame_[a-z]+_/, '')),
    ]);
    expect(secretForms.length).toBeGreaterThan(100);
    // Self-checks: the search finds canaries where they are meant to be, and sees the stored data.
    const fixtureText = readFileSync(fixture.path, 'utf8');
    expect(findCanaries(fixtureText, tokenForms(main)).length).toBeGreaterThan(3);
    expect(findCanaries(fixtureText, [password, totpSeed]).length).toBe(2);
    expect(findCanaries(`Bearer ${keyA}`, credentialForms).length).toBeGreaterThan(0);
    expect(stored).toContain(vaultId);
    expect(afterCrash).toContain(spare);

    // stderr() holds stdout too: the processes' whole output, line by line.
    const logLines = processes.flatMap((p) => p.stderr().split('\n').filter(Boolean));
    expect(logLines.length).toBeGreaterThan(responses.length);
    expect(logLines.some((line) => line.includes('"level":20') || line.includes('"level":10'))).toBe(true);
    const surfaces: { name: string; text: string; credentialsAllowed?: boolean }[] = [
      ...responses.map((r) => ({ name: `response ${r.label}`, text: r.text, credentialsAllowed: r.holdsGrant })),
      ...agent.seen.map((text, i) => ({ name: `agent answer ${i + 1}`, text })),
      ...logLines.map((line) => ({ name: `log line ${line.slice(0, 120)}`, text: line })),
      ...outputs.map((o) => ({ name: o.name, text: o.text, credentialsAllowed: o.holdsCredentials })),
      { name: dialect === 'sqlite' ? 'SQLite files right after kill -9' : 'pg_dump right after kill -9', text: afterCrash },
      { name: dialect === 'sqlite' ? 'SQLite files at the end' : 'pg_dump at the end', text: stored },
    ];
    const hits = surfaces.flatMap(({ name, text, credentialsAllowed }) => {
      const found = [...findCanaries(text, secretForms), ...(credentialsAllowed ? [] : findCanaries(text, credentialForms))];
      return found.length > 0 ? [`${name}: ${found.join(', ')}`] : [];
    });
    expect(hits).toEqual([]);
    console.info(
      `canary (${dialect}): ${responses.length} responses, ${logLines.length} log lines, ${surfaces.length} surfaces, ${secretForms.length + credentialForms.length} forms: 0 hits`,
    );
  });
});
