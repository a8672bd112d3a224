// Three `sesame serve` processes on one PostgreSQL database, as behind a load balancer: unique
// names, rotation, deletion, key revocation, idempotency and rate limits hold across instances, and
// one instance shutting down loses no request it accepted. How: docs/deployment.md, "Several instances".

import pg from 'pg';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedAgent } from '../src/demo/agent.js';
import { type LaunchedChromium, launchChromium } from '../src/demo/chromium.js';
import { HOSTS, startSite, type TestSite } from '../src/demo/site.js';
import { type Cluster, type Instance, startCluster } from './helpers/cluster.js';
import { OP_VAULT } from './helpers/fixture.js';
import { POSTGRES_AVAILABLE } from './helpers/postgres.js';
import { expectTooManyRequests } from './helpers/rate-limit.js';
import type { TestResponse } from './helpers/server.js';
import { createBody, sleep, uniqueName, VAULTS, type VaultObject } from './helpers/vaults.js';

function summary(responses: TestResponse[]): string {
  return responses.map((r) => `${r.status} ${r.text}`).join('\n');
}

describe.skipIf(!POSTGRES_AVAILABLE)('three instances on one PostgreSQL database', () => {
  let cluster: Cluster;
  let A: Instance;
  let B: Instance;
  let C: Instance;
  let key: string;
  const request = (instance: Instance, method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}) =>
    cluster.request(instance, method, path, { key, ...options });
  const health = (instance: Instance, id: string) => request(instance, 'GET', `${VAULTS}/${id}/health`);

  async function create(instance: Instance, token = cluster.fixture.token()): Promise<{ vault: VaultObject; token: string }> {
    const response = await request(instance, 'POST', VAULTS, { body: createBody(uniqueName(), token) });
    expect(response.status, response.text).toBe(201);
    return { vault: response.body, token };
  }

  beforeAll(async () => {
    cluster = await startCluster({ instances: 3 });
    [A, B, C] = cluster.instances as [Instance, Instance, Instance];
    ({ key } = await cluster.newOrg());
  }, 60_000);
  afterAll(() => cluster?.close());

  it('started together on an empty database, the instances applied each migration once', async () => {
    const applied = await cluster.sesame(['migrate']);
    expect(applied).toEqual({ applied: [] });
    const client = new pg.Client({ connectionString: cluster.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT name, count(*)::int AS n FROM kysely_migration GROUP BY name');
      expect(rows.length).toBeGreaterThanOrEqual(3);
      for (const row of rows) expect(row.n).toBe(1);
    } finally {
      await client.end();
    }
  });

  it('during a rolling upgrade, an instance of the older version still starts on a database the newer one migrated', async () => {
    const client = new pg.Client({ connectionString: cluster.databaseUrl });
    await client.connect();
    try {
      // What a newer version leaves behind: a migration this version does not know.
      await client.query('INSERT INTO kysely_migration (name, timestamp) VALUES ($1, $2)', [
        '9999-from-a-newer-version',
        new Date().toISOString(),
      ]);
      const older = await cluster.start();
      expect((await request(older, 'GET', VAULTS)).status).toBe(200);
      expect(await cluster.sesame(['migrate'])).toEqual({ applied: [] });
      older.child.kill('SIGTERM');
      expect(await older.exited).toBe(0);
    } finally {
      await client.query('DELETE FROM kysely_migration WHERE name = $1', ['9999-from-a-newer-version']);
      await client.end();
    }
  });

  it('racing creates of one name spread over the instances: one 201, the rest 409, no 5xx', async () => {
    const name = uniqueName('contested');
    const responses = await Promise.all(
      Array.from({ length: 21 }, (_, i) =>
        request([A, B, C][i % 3] as Instance, 'POST', VAULTS, { body: createBody(name, cluster.fixture.token()) }),
      ),
    );
    expect(
      responses.filter((r) => r.status === 201),
      summary(responses),
    ).toHaveLength(1);
    expect(
      responses.filter((r) => r.status === 409),
      summary(responses),
    ).toHaveLength(20);
    for (const instance of [A, B, C]) {
      const list = await request(instance, 'GET', `${VAULTS}?limit=1000`);
      expect(list.body.vaults.filter((v: VaultObject) => v.name === name)).toHaveLength(1);
    }
  });

  it("a rotation on one instance is what the others' next provider call uses", async () => {
    const { vault, token: oldToken } = await create(A);
    for (const instance of [B, C]) expect((await health(instance, vault.id)).body).toEqual({ ok: true, error: null });

    const newToken = cluster.fixture.token();
    expect((await request(A, 'PUT', `${VAULTS}/${vault.id}/token`, { body: { token: newToken } })).status).toBe(204);
    // The old token is revoked at 1Password: B and C still pass, so they use the new one.
    cluster.fixture.setState(oldToken, 'revoked');
    for (const instance of [B, C]) expect((await health(instance, vault.id)).body).toEqual({ ok: true, error: null });
    // And the other way round: with the new token revoked and the old one back, they fail, so no
    // instance kept the old token (or a cached answer) anywhere.
    cluster.fixture.setState(oldToken, 'active');
    cluster.fixture.setState(newToken, 'revoked');
    for (const instance of [A, B, C]) {
      expect((await health(instance, vault.id)).body).toEqual({ ok: false, error: '1Password: invalid service account token' });
    }
  });

  it('a deletion on one instance is a 404 on the others at once', async () => {
    const { vault } = await create(A);
    for (const instance of [B, C]) expect((await request(instance, 'GET', `${VAULTS}/${vault.id}`)).status).toBe(200);
    expect((await request(A, 'DELETE', `${VAULTS}/${vault.id}`)).status).toBe(204);
    for (const instance of [B, C]) {
      const answers = [
        await request(instance, 'GET', `${VAULTS}/${vault.id}`),
        await health(instance, vault.id),
        await request(instance, 'PATCH', `${VAULTS}/${vault.id}`, { body: { name: uniqueName() } }),
        await request(instance, 'PUT', `${VAULTS}/${vault.id}/token`, { body: { token: cluster.fixture.token() } }),
        await request(instance, 'DELETE', `${VAULTS}/${vault.id}`),
      ];
      for (const answer of answers) expect(answer.body, answer.text).toEqual({ detail: 'Vault not found' });
    }
  });

  it('an API key revoked with the CLI is refused by every instance at once', async () => {
    const org = await cluster.newOrg();
    const second = await cluster.issueKey(org.orgId);
    for (const instance of [A, B, C]) expect((await cluster.request(instance, 'GET', VAULTS, { key: org.key })).status).toBe(200);
    expect(await cluster.sesame(['api-key', 'revoke', '--id', org.keyId])).toEqual({ id: org.keyId, revoked: true });
    for (const instance of [A, B, C]) {
      const refused = await cluster.request(instance, 'GET', VAULTS, { key: org.key });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer');
      expect(refused.body).toEqual({ detail: 'Authentication required' });
      // The org's other key is untouched.
      expect((await cluster.request(instance, 'GET', VAULTS, { key: second.key })).status).toBe(200);
    }
  });

  it('an Idempotency-Key used on one instance replays on the others', async () => {
    const body = createBody(uniqueName(), cluster.fixture.token());
    const headers = { 'idempotency-key': uniqueName('idem') };
    const first = await request(A, 'POST', VAULTS, { body, headers });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    for (const instance of [B, C]) {
      const replay = await request(instance, 'POST', VAULTS, { body, headers });
      expect(replay.status).toBe(201);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toEqual(first.body);
      expect(replay.headers.get('location')).toBe(`/api/v2/vaults/${first.body.id}`);
    }
    // The same key with another body, on a third instance, is refused.
    const other = await request(C, 'POST', VAULTS, { body: { ...body, name: uniqueName() }, headers });
    expect(other.status).toBe(422);
    expect(other.body.detail).toMatchObject([{ loc: ['header', 'idempotency-key'], msg: expect.stringContaining('already used') }]);
  });

  it('an Idempotency-Key still in flight on one instance is a 409 on another, then replays', async () => {
    const body = createBody(uniqueName(), cluster.fixture.token());
    const headers = { 'idempotency-key': uniqueName('idem') };
    cluster.fixture.setFaults({ latency_ms: 1500 });
    try {
      const slow = request(A, 'POST', VAULTS, { body, headers });
      await waitForPendingIdempotencyKeys(cluster.databaseUrl, 1);
      const concurrent = await request(B, 'POST', VAULTS, { body, headers });
      expect(concurrent.status).toBe(409);
      expect(concurrent.headers.get('retry-after')).toBe('1');
      expect(concurrent.body).toEqual({ detail: 'A request with this Idempotency-Key is still in progress; retry shortly' });
      const done = await slow;
      expect(done.status).toBe(201);
      const replay = await request(B, 'POST', VAULTS, { body, headers });
      expect(replay.status).toBe(201);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toEqual(done.body);
    } finally {
      cluster.fixture.setFaults({});
    }
  });

  it('SIGTERM to one instance while requests are in flight: they complete, the rest find it closed, nothing is lost', async () => {
    const D = await cluster.start();
    const { vault } = await create(D);
    cluster.fixture.setFaults({ latency_ms: 1500 });
    try {
      // In flight: health checks, then creates (each claims its Idempotency-Key before calling the provider).
      const checks = Array.from({ length: 4 }, () => health(D, vault.id));
      const names = Array.from({ length: 8 }, () => uniqueName('drain'));
      const creates = names.map((name, i) =>
        request(D, 'POST', VAULTS, {
          body: createBody(name, cluster.fixture.token()),
          headers: { 'idempotency-key': `drain-${name}-${i}` },
        }),
      );
      await waitForPendingIdempotencyKeys(cluster.databaseUrl, names.length);
      D.child.kill('SIGTERM');
      // Requests sent after the signal: the listener is closed, so they are refused at connect
      // (a load balancer retries them elsewhere), never accepted and dropped.
      await sleep(200);
      const late = await Promise.allSettled(Array.from({ length: 5 }, () => request(D, 'GET', VAULTS)));

      const created = await Promise.all(creates);
      for (const r of created) expect(r.status, r.text).toBe(201);
      for (const r of await Promise.all(checks)) expect(r.body).toEqual({ ok: true, error: null });
      for (const outcome of late) {
        if (outcome.status === 'fulfilled') expect(outcome.value.status).toBe(200);
        else expect((outcome.reason as { code?: string }).code).toBe('ECONNREFUSED');
      }
      expect(await D.exited).toBe(0);

      // Every acknowledged create is stored, complete (its token decrypts and works), on the other instances.
      cluster.fixture.setFaults({});
      const list = await request(A, 'GET', `${VAULTS}?limit=1000`);
      const drained = list.body.vaults.filter((v: VaultObject) => v.name.startsWith('drain-'));
      expect(drained.map((v: VaultObject) => v.name).sort()).toEqual([...names].sort());
      for (const r of created) expect((await health(B, r.body.id)).body).toEqual({ ok: true, error: null });
    } finally {
      cluster.fixture.setFaults({});
    }
  });

  describe('fill through different instances', () => {
    const account = { username: 'fill-user', password: `pw-${Math.random().toString(36).slice(2)}` };
    let chrome: LaunchedChromium;
    let site: TestSite;
    let browser: Browser;
    let page: Page;
    let point: { x: number; y: number };

    beforeAll(async () => {
      chrome = await launchChromium();
      site = await startSite([account]);
      cluster.fixture.data.vaults[OP_VAULT] = {
        title: 'Site logins',
        items: [
          {
            id: 'fillitem0000000000000000a',
            title: 'Site',
            category: 'Login',
            updated_at: '2026-01-01T00:00:00Z',
            websites: [{ url: `http://${HOSTS.login}`, autofill: 'AnywhereOnWebsite' }],
            fields: [
              { id: 'username', type: 'text', label: 'username', value: account.username },
              { id: 'password', type: 'concealed', label: 'password', value: account.password },
            ],
          },
        ],
      };
      cluster.fixture.write();
      browser = await chromium.connectOverCDP(chrome.cdpEndpoint);
      const context = browser.contexts()[0];
      if (!context) throw new Error('the browser has no default context');
      page = context.pages()[0] ?? (await context.newPage());
      await page.goto(site.url(HOSTS.login, '/login'));
      const box = await page.locator('#password').boundingBox();
      if (!box) throw new Error('no password input');
      point = { x: Math.round(box.x + box.width / 2), y: Math.round(box.y + box.height / 2) };
    }, 60_000);
    afterAll(async () => {
      await browser?.close().catch(() => undefined);
      await site?.close();
      await chrome?.close();
    });

    /** fill_secret_at on the password input, through `instance`; on success the input holds the password. */
    async function fill(instance: Instance, vaultId: string) {
      await page.locator('#password').fill('');
      const answer = await scriptedAgent({
        sesameUrl: instance.url,
        credential: key,
        vaultId,
        cdpEndpoint: chrome.cdpEndpoint,
        page,
      }).fillAtPoint(point, 'password');
      if (answer.body?.filled) expect(await page.locator('#password').inputValue()).toBe(account.password);
      return answer;
    }

    it("a rotation on one instance is what the others' next fill uses; a deletion is a 404 on their next fill", async () => {
      const { vault, token: oldToken } = await create(A);
      for (const instance of [B, C]) expect((await fill(instance, vault.id)).body).toEqual({ filled: true, field: 'password' });

      const newToken = cluster.fixture.token();
      expect((await request(A, 'PUT', `${VAULTS}/${vault.id}/token`, { body: { token: newToken } })).status).toBe(204);
      cluster.fixture.setState(oldToken, 'revoked');
      for (const instance of [B, C]) expect((await fill(instance, vault.id)).body).toEqual({ filled: true, field: 'password' });
      // The other way round: only the old token works, and B and C no longer fill with it.
      cluster.fixture.setState(oldToken, 'active');
      cluster.fixture.setState(newToken, 'revoked');
      for (const instance of [B, C]) {
        const refused = await fill(instance, vault.id);
        expect(refused.body).toMatchObject({ filled: false, field: 'password', reason: 'provider_unavailable' });
        expect(await page.locator('#password').inputValue()).toBe('');
      }

      cluster.fixture.setState(newToken, 'active');
      expect((await request(A, 'DELETE', `${VAULTS}/${vault.id}`)).status).toBe(204);
      for (const instance of [B, C]) {
        const gone = await fill(instance, vault.id);
        expect(gone.status).toBe(404);
        expect(gone.body).toEqual({ detail: 'Vault not found' });
      }
    });
  });
});

describe.skipIf(!POSTGRES_AVAILABLE)('a rate limit shared by three instances', () => {
  const LIMIT = 60;
  const SYNC_MS = 100;
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({
      instances: 3,
      env: { SESAME_RATE_LIMIT: String(LIMIT), SESAME_RATE_LIMIT_WINDOW_S: '3600', SESAME_RATE_LIMIT_SYNC_MS: String(SYNC_MS) },
    });
  }, 60_000);
  afterAll(() => cluster?.close());

  it('a key that used its budget on one instance is refused by the others', async () => {
    const [A, B, C] = cluster.instances as [Instance, Instance, Instance];
    const { key } = await cluster.newOrg();
    for (let i = 0; i < LIMIT; i++) expect((await cluster.request(A, 'GET', VAULTS, { key })).status).toBe(200);
    expectTooManyRequests(await cluster.request(A, 'GET', VAULTS, { key }), 3600);
    // A writes its counts within one sync interval; B and C have never seen the key and read them first.
    await sleep(3 * SYNC_MS);
    for (const instance of [B, C]) expectTooManyRequests(await cluster.request(instance, 'GET', VAULTS, { key }), 3600);
  });

  it('requests spread over the three instances at once: the shared limit holds within the documented overshoot', async () => {
    const { key } = await cluster.newOrg();
    const started = Date.now();
    // One paced client per instance, as behind a round-robin load balancer.
    const perInstance = await Promise.all(
      cluster.instances.map(async (instance) => {
        let admitted = 0;
        let sent = 0;
        let refused = 0;
        while (refused < 10) {
          sent++;
          const response = await cluster.request(instance, 'GET', VAULTS, { key });
          if (response.status === 200) admitted++;
          else {
            expectTooManyRequests(response, 3600);
            refused++;
          }
          await sleep(10);
        }
        return { admitted, sent };
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const admitted = perInstance.reduce((n, r) => n + r.admitted, 0);
    const ratePerInstance = Math.max(...perInstance.map((r) => r.sent)) / seconds;
    // docs/deployment.md: at most what the other instances admit in about two sync intervals (four at
    // worst), and never (instances − 1) × limit as separate per-instance limits would allow.
    const bound = LIMIT + Math.ceil(2 * ratePerInstance * ((4 * SYNC_MS) / 1000));
    const detail = JSON.stringify({ perInstance, ratePerInstance, bound });
    expect(admitted, detail).toBeGreaterThanOrEqual(LIMIT);
    expect(admitted, detail).toBeLessThanOrEqual(bound);
    expect(admitted, detail).toBeLessThan(2 * LIMIT);
    for (const r of perInstance) expect(r.admitted, detail).toBeLessThanOrEqual(LIMIT);
  });
});

/** Resolves once `n` Idempotency-Keys are claimed and pending: their requests have been accepted and are running. */
async function waitForPendingIdempotencyKeys(databaseUrl: string, n: number): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (let i = 0; i < 200; i++) {
      const { rows } = await client.query("SELECT count(*)::int AS n FROM idempotency_keys WHERE state = 'pending'");
      if (rows[0].n >= n) return;
      await sleep(25);
    }
    throw new Error(`fewer than ${n} requests reached the server`);
  } finally {
    await client.end();
  }
}
