// Hostile clients against a running server: requests a careful client never sends, each answered
// with the documented {"detail": …} shape and a 4xx, never an echo of a secret.
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OP_VAULT } from './helpers/fixture.js';
import { sendRaw } from './helpers/raw-http.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createVault } from './helpers/vaults.js';

describe('hostile clients', () => {
  let t: TestServer;
  let key: string;
  beforeAll(async () => {
    t = await startTestServer({ dialect: 'sqlite' });
    ({ key } = await t.newOrg());
  });
  afterAll(() => t?.close());

  it('never echoes a credential sent as a JSON object key, in loc or in input', async () => {
    const token = t.fixture.token();
    const apiKeyLike = `sesame_ak_${'A'.repeat(43)}`;
    const bodies = [
      { [token]: 'x' },
      { name: 'n', provider_config: { op_vault_id: 'v', [token]: 1 }, [apiKeyLike]: true },
      { name: 'n', provider_config: { [token]: { [token]: 'nested' } } },
    ];
    for (const body of bodies) {
      const res = await t.request('POST', '/api/v2/vaults', { key, body });
      expect(res.status).toBe(422);
      expect(res.text).not.toContain(token);
      expect(res.text).not.toContain(apiKeyLike);
      expect(res.text).toContain('**********');
    }
    // A body that refuses unknown keys reports each at its own loc: the loc is masked too.
    const { vault } = await createVault(t, key);
    const grant = await t.request('POST', `/api/v2/vaults/${vault.id}/grants`, { key, body: { expires_in: 600, [token]: 1 } });
    expect(grant.status).toBe(422);
    expect(grant.body.detail).toContainEqual(expect.objectContaining({ type: 'extra_forbidden', loc: ['body', '**********'] }));
    expect(grant.text).not.toContain(token);
  });

  it('refuses C1 control characters in names and op_vault_id, as it refuses C0 ones', async () => {
    for (const character of ['\u0080', '\u0085', '\u009b', '\u009f']) {
      const named = await t.request('POST', '/api/v2/vaults', {
        key,
        body: { name: `prod${character}`, provider_config: { op_vault_id: `v${character}` }, token: t.fixture.token() },
      });
      expect(named.status).toBe(422);
      const locs = named.body.detail.map((issue: { loc: unknown[] }) => JSON.stringify(issue.loc)).sort();
      expect(locs).toEqual(['["body","name"]', '["body","provider_config","op_vault_id"]']);
    }
    // The first character past C1 is an ordinary one.
    const fine = await t.request('POST', '/api/v2/vaults', {
      key,
      body: { name: 'prod\u00a0café', provider_config: { op_vault_id: OP_VAULT }, token: t.fixture.token() },
    });
    expect(fine.status).toBe(201);
  });

  it('serves a known route with a trailing slash, and never answers a 405 whose Allow lists the method used', async () => {
    const auth: [string, string][] = [['Authorization', `Bearer ${key}`]];
    const listed = await sendRaw(t.url, { method: 'GET', target: '/api/v2/vaults/', headers: auth });
    expect(listed?.status).toBe(200);
    expect(JSON.parse(listed?.body.toString() ?? '')).toMatchObject({ limit: 50, offset: 0 });
    const created = await sendRaw(t.url, {
      method: 'POST',
      target: '/api/v2/vaults/',
      headers: [...auth, ['Content-Type', 'application/json']],
      body: Buffer.from('{}'),
    });
    expect(created?.status).toBe(422); // the create route, validating the body
    const health = await sendRaw(t.url, { method: 'GET', target: '/healthz/', headers: [] });
    expect(health?.status).toBe(200);
    for (const target of ['/api/v2/vaults', '/api/v2/vaults/']) {
      const wrong = await sendRaw(t.url, { method: 'PUT', target, headers: auth });
      expect(wrong?.status, target).toBe(405);
      expect(wrong?.headers.allow?.split(', ').sort(), target).toEqual(['GET', 'HEAD', 'POST']);
    }
  });

  it('answers a request without Host with the {"detail"} body, not an empty 400', async () => {
    const res = await sendRaw(t.url, { method: 'GET', target: '/healthz', headers: [], omitHost: true });
    expect(res?.status).toBe(400);
    expect(res?.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res?.body.toString() ?? '')).toEqual({ detail: 'The request has no Host header' });
  });
});

describe('slow clients', () => {
  let t: TestServer;
  const REQUEST_TIMEOUT_MS = 1_500;
  beforeAll(async () => {
    t = await startTestServer({
      dialect: 'sqlite',
      env: { SESAME_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), SESAME_KEEP_ALIVE_TIMEOUT_MS: '1000' },
    });
  });
  afterAll(() => t?.close());

  /** Sends `head`, then one byte of body every 200 ms; resolves with what the server sent and when it closed. */
  function trickle(head: string): Promise<{ answer: string; closedAfterMs: number }> {
    const { hostname, port } = new URL(t.url);
    return new Promise((resolve) => {
      const started = Date.now();
      const socket = net.connect({ host: hostname, port: Number(port) });
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk;
      });
      socket.on('error', () => {});
      socket.write(head);
      const drip = setInterval(() => socket.writable && socket.write('x'), 200);
      const giveUp = setTimeout(() => socket.destroy(), 20_000);
      socket.on('close', () => {
        clearInterval(drip);
        clearTimeout(giveUp);
        resolve({ answer, closedAfterMs: Date.now() - started });
      });
    });
  }

  const head = (auth: string) =>
    `POST /api/v2/vaults HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n${auth}\r\n`;

  it('answers a body trickled slower than the request deadline with 408 and closes the connection', async () => {
    const { key } = await t.newOrg();
    const { answer, closedAfterMs } = await trickle(head(`Authorization: Bearer ${key}\r\n`));
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('{"detail":"The request took too long to arrive; the connection is closed"}');
    expect(closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 3_000);
  });

  it('does not let an anonymous client keep its connection by trickling after its 401', async () => {
    const { answer, closedAfterMs } = await trickle(head(''));
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS); // at once, not at the request deadline
  });

  it('closes an idle keep-alive connection after its timeout', async () => {
    const { hostname, port } = new URL(t.url);
    const started = Date.now();
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.resume(); // read the answer, so the close is seen
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(socket, 'close');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
