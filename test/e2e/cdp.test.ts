// Reaching the browser: the CDP allow-list is applied before any connection, connections are reused
// per endpoint and replaced when the browser goes away, and the page is chosen by target id.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedAgent } from '../../src/demo/agent.js';
import { type FillEnvironment, HOSTS, startFillEnvironment } from './harness.js';

/** A TCP proxy in front of the browser's DevTools port that counts connections and can cut them all. */
async function startProxy(targetPort: number) {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((client) => {
    connections++;
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    cutAll: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A plain TCP listener that only counts who connects: where a refused endpoint must never reach. */
async function startTrap() {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    get connections() {
      return connections;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('CDP endpoints', () => {
  let env: FillEnvironment;
  beforeAll(async () => {
    // 127.0.0.1 is the browser; 127.0.0.2 and localhost are not allowed here, to prove refusals happen before connecting.
    env = await startFillEnvironment({ env: { SESAME_CDP_ALLOW: '127.0.0.1,*.browsers.example' } });
  });
  afterAll(() => env?.close());

  const fill = (body: Record<string, unknown>) =>
    env.t.request('POST', `/api/v2/vaults/${env.vaultId}/fill`, { key: env.key, body: { x: 10, y: 10, field: 'username', ...body } });

  it('refuses an endpoint outside the allow-list with a 422, before any connection', async () => {
    const trap = await startTrap();
    try {
      for (const endpoint of [
        `http://127.0.0.2:${trap.port}`,
        `http://localhost:${trap.port}`,
        `ws://[::1]:${trap.port}/devtools/browser/x`,
        `http://user:pw@127.0.0.1:${trap.port}`,
        'http://browser.example:9222',
        'https://10.0.0.1:9222',
      ]) {
        const res = await fill({ cdp_endpoint: endpoint });
        expect(res.status, endpoint).toBe(422);
        expect(res.body.detail).toEqual([
          {
            type: 'value_error',
            loc: ['body', 'cdp_endpoint'],
            msg: 'Value error, cdp_endpoint is not allowed by this server (SESAME_CDP_ALLOW)',
            input: endpoint,
          },
        ]);
      }
      const listed = await env.t.request('POST', `/api/v2/vaults/${env.vaultId}/list-secrets`, {
        key: env.key,
        body: { cdp_endpoint: `http://127.0.0.2:${trap.port}` },
      });
      expect(listed.status).toBe(422);
      expect(trap.connections).toBe(0);
    } finally {
      await trap.close();
    }
    // Not a URL of a known scheme at all: the schema refuses it.
    for (const endpoint of ['file:///etc/passwd', '127.0.0.1:9222', '']) {
      expect((await fill({ cdp_endpoint: endpoint })).status).toBe(422);
    }
    // Refusals are audited as failures, with no origin (nothing was read from a browser).
    const events = await env.t.request('GET', `/api/v2/vaults/${env.vaultId}/events`, { key: env.key });
    expect(events.body.events[0]).toMatchObject({
      action: 'list_secrets',
      outcome: 'failed',
      reason: 'cdp_endpoint_not_allowed',
      origin: null,
    });
  });

  it('answers 502 for an allowed endpoint with no browser behind it', async () => {
    const trap = await startTrap();
    await trap.close();
    const res = await fill({ cdp_endpoint: `http://127.0.0.1:${trap.port}` });
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ detail: 'Could not reach the browser at cdp_endpoint' });
  });

  it('reuses one connection per endpoint, and reconnects after the browser went away', async () => {
    const port = Number(new URL(env.chrome.cdpEndpoint).port);
    const proxy = await startProxy(port);
    try {
      await env.page.goto(env.site.url(HOSTS.login, '/login'));
      const agent = scriptedAgent({
        sesameUrl: env.t.url,
        credential: env.key,
        vaultId: env.vaultId,
        cdpEndpoint: proxy.endpoint,
        page: env.page,
      });
      for (let i = 0; i < 5; i++) expect((await agent.fillAt(env.page.locator('#username'), 'username')).body.filled).toBe(true);
      expect((await agent.listSecrets()).status).toBe(200);
      // One discovery request and one WebSocket, whatever the number of calls.
      expect(proxy.connections).toBe(2);
      // The browser "goes away": every connection through the proxy is cut.
      proxy.cutAll();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await agent.fillAt(env.page.locator('#username'), 'username')).body.filled).toBe(true);
      expect(proxy.connections).toBe(4);
    } finally {
      await proxy.close();
    }
  });

  it('acts on the page named by target_id, and asks for one when several pages are open', async () => {
    const second = await env.page.context().newPage();
    try {
      await second.goto(env.site.url(HOSTS.parent, '/login'));
      await env.page.goto(env.site.url(HOSTS.login, '/login'));
      const several = await fill({ cdp_endpoint: env.chrome.cdpEndpoint });
      expect(several.status).toBe(422);
      expect(several.body.detail[0]).toMatchObject({
        loc: ['body', 'target_id'],
        msg: 'Value error, The browser has 2 pages open; name one with target_id',
      });
      const unknown = await fill({ cdp_endpoint: env.chrome.cdpEndpoint, target_id: 'ABCDEF0123' });
      expect(unknown.status).toBe(422);

      const session = await second.context().newCDPSession(second);
      const { targetInfo } = (await session.send('Target.getTargetInfo')) as { targetInfo: { targetId: string } };
      await session.detach();
      const agent = scriptedAgent({
        sesameUrl: env.t.url,
        credential: env.key,
        vaultId: env.vaultId,
        cdpEndpoint: env.chrome.cdpEndpoint,
        page: second,
        targetId: targetInfo.targetId.toLowerCase(),
      });
      expect((await agent.fillAt(second.locator('#username'), 'username')).body.filled).toBe(true);
      expect(await second.locator('#username').inputValue()).toBe('parent-user');
      expect(await env.page.locator('#username').inputValue()).toBe('');
    } finally {
      await second.close();
    }
  });

  it('validates the fill body and lists every problem', async () => {
    const res = await env.t.request('POST', `/api/v2/vaults/${env.vaultId}/fill`, {
      key: env.key,
      body: { cdp_endpoint: env.chrome.cdpEndpoint, x: -1, y: 'a', field: '', acount: 'typo', target_id: 'not valid!' },
    });
    expect(res.status).toBe(422);
    const locs = res.body.detail.map((issue: { loc: unknown[] }) => JSON.stringify(issue.loc)).sort();
    expect(locs).toEqual(['["body","acount"]', '["body","field"]', '["body","target_id"]', '["body","x"]', '["body","y"]'].sort());
    expect((await env.t.request('POST', `/api/v2/vaults/${env.vaultId}/fill`, { key: env.key })).status).toBe(422);
    expect((await env.t.request('POST', `/api/v2/vaults/not-a-uuid/fill`, { key: env.key, body: {} })).status).toBe(422);
  });

  it("answers 404 for a missing vault or another org's vault, and 401 without a credential", async () => {
    const other = await env.t.newOrg();
    const body = { cdp_endpoint: env.chrome.cdpEndpoint, x: 1, y: 1, field: 'username' };
    expect((await env.t.request('POST', `/api/v2/vaults/${env.vaultId}/fill`, { key: other.key, body })).status).toBe(404);
    const listBody = { cdp_endpoint: env.chrome.cdpEndpoint };
    expect((await env.t.request('POST', `/api/v2/vaults/${env.vaultId}/list-secrets`, { key: other.key, body: listBody })).status).toBe(
      404,
    );
    expect((await env.t.request('POST', `/api/v2/vaults/${env.vaultId}/fill`, { body })).status).toBe(401);
  });

  it('documents both actions in the OpenAPI document', async () => {
    const doc = (await env.t.request('GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths['/api/v2/vaults/{vault_id}/fill'])).toEqual(['post']);
    expect(Object.keys(doc.paths['/api/v2/vaults/{vault_id}/list-secrets'])).toEqual(['post']);
    const fillDoc = doc.paths['/api/v2/vaults/{vault_id}/fill'].post;
    expect(Object.keys(fillDoc.responses)).toEqual(expect.arrayContaining(['200', '401', '404', '422', '502', '504']));
    expect(fillDoc.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/FillResult' });
    expect(JSON.stringify(doc.components.schemas.FillResult)).toContain('not_a_password_input');
    expect(Object.keys(doc.paths['/api/v2/vaults/{vault_id}/events'])).toEqual(['get']);
    expect(Object.keys(doc.paths['/api/v2/vaults/{vault_id}/grants']).sort()).toEqual(['get', 'post']);
  });
});
