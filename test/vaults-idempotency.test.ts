// Idempotency-Key on create and rotate (docs/api.md, "Idempotency (ours)"), through the real server
// on both databases. "No second provider call" is proven by making a second call fail: a replay that
// reached the fixture would get a 422 (revoked token) or a 503 (rate limit) instead of the first answer.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeDialects, startTestServer, type TestResponse, type TestServer } from './helpers/server.js';
import { createBody, createVault, health, listTotal, MISSING_ID, sleep, VAULTS } from './helpers/vaults.js';

// A 422 in the list shape, like every 422 (the SDKs parse it as HTTPValidationError).
const DIFFERENT_BODY = {
  detail: [
    {
      type: 'value_error',
      loc: ['header', 'idempotency-key'],
      msg: 'Value error, Idempotency-Key was already used with a different request body',
      input: null,
    },
  ],
};
// Long enough that a second request certainly arrives while the first waits on "1Password".
const SLOW_MS = 1500;
// Above SLOW_MS, so a slow provider is waited for; a test that needs a timeout waits this long.
const CALL_TIMEOUT_MS = 3000;

function idem(key: string): Record<string, string> {
  return { 'idempotency-key': key };
}

function newKey(): string {
  return `idem-${Math.random().toString(36).slice(2)}`;
}

function expectInFlight(res: TestResponse): void {
  expect(res.status).toBe(409);
  expect(res.headers.get('retry-after')).toBe('1');
  expect(Object.keys(res.body)).toEqual(['detail']);
  expect(typeof res.body.detail).toBe('string');
}

describeDialects('vaults idempotency (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ dialect, env: { SESAME_PROVIDER_CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS) } });
  });
  afterAll(() => t?.close());
  afterEach(() => t.fixture.setFaults({}));

  describe('create', () => {
    it('replays the first answer for the same key and body, without a second provider call or vault', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token();
      const body = createBody('idem', token);
      const k = newKey();
      const first = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
      expect(first.status).toBe(201);
      // A second provider call would now be refused (422).
      t.fixture.setState(token, 'revoked');
      const replay = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
      expect(replay.status).toBe(201);
      expect(replay.body).toEqual(first.body);
      expect(replay.headers.get('location')).toBe(first.headers.get('location'));
      expect(await listTotal(t, key)).toBe(1);
    });

    it('replays even when every provider call would be rate limited', async () => {
      const { key } = await t.newOrg();
      const body = createBody('idem', t.fixture.token());
      const k = newKey();
      const first = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
      expect(first.status).toBe(201);
      t.fixture.setFaults({ rate_limit_after: 0 });
      // The fault is live: a request that reaches the provider gets a 503.
      expect((await t.request('POST', VAULTS, { key, body: createBody('other', t.fixture.token()) })).status).toBe(503);
      for (let i = 0; i < 3; i++) {
        const replay = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
        expect(replay.status).toBe(201);
        expect(replay.body).toEqual(first.body);
      }
      expect(await listTotal(t, key)).toBe(1);
    });

    it('replays the first answer as it was, even after the vault changed', async () => {
      const { key } = await t.newOrg();
      const body = createBody('before', t.fixture.token());
      const k = newKey();
      const first = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
      expect(first.status).toBe(201);
      await sleep(5);
      expect((await t.request('PATCH', `${VAULTS}/${first.body.id}`, { key, body: { name: 'after' } })).status).toBe(200);
      const replay = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
      expect(replay.status).toBe(201);
      expect(replay.body).toEqual(first.body);
      expect(await listTotal(t, key)).toBe(1);
    });

    it('answers 422 with the exact detail for the same key and a different body', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token();
      const k = newKey();
      const first = await t.request('POST', VAULTS, { key, body: createBody('one', token), headers: idem(k) });
      expect(first.status).toBe(201);
      const variants = [createBody('two', token), createBody('one', t.fixture.token()), createBody('one', token, 'someothervault')];
      for (const body of variants) {
        const res = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
        expect(res.status).toBe(422);
        expect(res.body).toEqual(DIFFERENT_BODY);
      }
      expect(await listTotal(t, key)).toBe(1);
    });

    it('answers 409 with Retry-After: 1 while the first request is still running', async () => {
      const { key } = await t.newOrg();
      const body = createBody('slow', t.fixture.token());
      const k = newKey();
      t.fixture.setFaults({ latency_ms: SLOW_MS });
      const firstPromise = t.request('POST', VAULTS, { key, body, headers: idem(k) });
      await sleep(SLOW_MS / 3);
      const second = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
      expectInFlight(second);
      // A different body with the same key is still a different body.
      const different = await t.request('POST', VAULTS, { key, body: createBody('other', t.fixture.token()), headers: idem(k) });
      expect(different.status).toBe(422);
      expect(different.body).toEqual(DIFFERENT_BODY);
      const first = await firstPromise;
      expect(first.status).toBe(201);
      t.fixture.setFaults({});
      const replay = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
      expect(replay.status).toBe(201);
      expect(replay.body).toEqual(first.body);
      expect(await listTotal(t, key)).toBe(1);
    });

    it('never creates two vaults when the same key and body race', async () => {
      const { key } = await t.newOrg();
      const body = createBody('race', t.fixture.token());
      const k = newKey();
      const responses = await Promise.all(Array.from({ length: 10 }, () => t.request('POST', VAULTS, { key, body, headers: idem(k) })));
      const created = responses.filter((r) => r.status === 201);
      const inFlight = responses.filter((r) => r.status === 409);
      expect(created.length + inFlight.length, responses.map((r) => `${r.status} ${r.text}`).join('\n')).toBe(10);
      expect(created.length).toBeGreaterThanOrEqual(1);
      for (const r of created) expect(r.body).toEqual(created[0]?.body);
      for (const r of inFlight) expectInFlight(r);
      expect(await listTotal(t, key)).toBe(1);
    });

    it('does not keep a failed attempt (503): the retry after the fault is gone succeeds', async () => {
      const { key } = await t.newOrg();
      const body = createBody('retry', t.fixture.token());
      const k = newKey();
      t.fixture.setFaults({ unavailable: true });
      const failed = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
      expect(failed.status).toBe(503);
      expect(failed.headers.get('retry-after')).toMatch(/^\d+$/);
      // Still failing: the 503 is not replayed from a record, it is a new attempt. (A timeout, not a rate
      // limit: after a rate limit Sesame holds the token back for a minute, so the retry below would wait.)
      t.fixture.setFaults({ latency_ms: CALL_TIMEOUT_MS + 500 });
      const failedAgain = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
      expect(failedAgain.status).toBe(503);
      expect(failedAgain.body.detail).toMatch(/timed out/);
      t.fixture.setFaults({});
      const retried = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
      expect(retried.status).toBe(201);
      expect(await listTotal(t, key)).toBe(1);
      const replay = await t.request('POST', VAULTS, { key, body, headers: idem(k) });
      expect(replay.body).toEqual(retried.body);
    });

    it('keeps keys per organization', async () => {
      const a = await t.newOrg();
      const b = await t.newOrg();
      const k = newKey();
      const token = t.fixture.token();
      const fromA = await t.request('POST', VAULTS, { key: a.key, body: createBody('shared', token), headers: idem(k) });
      expect(fromA.status).toBe(201);
      // The same key and the same body in org B is a new request of org B, not a replay of A's answer.
      const fromB = await t.request('POST', VAULTS, { key: b.key, body: createBody('shared', token), headers: idem(k) });
      expect(fromB.status).toBe(201);
      expect(fromB.body.org_id).toBe(b.orgId);
      expect(fromB.body.id).not.toBe(fromA.body.id);
      // And a different body under the same key value in a third org is not "already used".
      const c = await t.newOrg();
      const fromC = await t.request('POST', VAULTS, { key: c.key, body: createBody('else', t.fixture.token()), headers: idem(k) });
      expect(fromC.status).toBe(201);
      expect(await listTotal(t, a.key)).toBe(1);
      expect(await listTotal(t, b.key)).toBe(1);
      expect(await listTotal(t, c.key)).toBe(1);
    });

    it('answers 422 at ["header","idempotency-key"] for a key longer than 255 characters', async () => {
      const { key } = await t.newOrg();
      const long = 'k'.repeat(256);
      const res = await t.request('POST', VAULTS, { key, body: createBody('x', t.fixture.token()), headers: idem(long) });
      expect(res.status).toBe(422);
      expect(res.body).toEqual({
        detail: [
          {
            type: 'string_too_long',
            loc: ['header', 'idempotency-key'],
            msg: 'String should have at most 255 characters',
            input: long,
            ctx: { max_length: 255 },
          },
        ],
      });
      expect(await listTotal(t, key)).toBe(0);
      const max = await t.request('POST', VAULTS, { key, body: createBody('x', t.fixture.token()), headers: idem('k'.repeat(255)) });
      expect(max.status).toBe(201);
    });

    it('answers 422 at ["header","idempotency-key"] for an empty key', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('POST', VAULTS, { key, body: createBody('x', t.fixture.token()), headers: idem('') });
      expect(res.status).toBe(422);
      expect(res.body.detail).toHaveLength(1);
      expect(res.body.detail[0]).toMatchObject({ type: 'string_too_short', loc: ['header', 'idempotency-key'], ctx: { min_length: 1 } });
      expect(await listTotal(t, key)).toBe(0);
    });

    it('lists an invalid Idempotency-Key together with body failures', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('POST', VAULTS, { key, body: { name: '' }, headers: idem('k'.repeat(300)) });
      expect(res.status).toBe(422);
      const locs = res.body.detail.map((i: { loc: unknown }) => JSON.stringify(i.loc)).sort();
      expect(locs).toEqual(['["body","name"]', '["body","provider_config"]', '["body","token"]', '["header","idempotency-key"]'].sort());
    });
  });

  describe('rotate', () => {
    it('replays 204 for the same key and token, without a second provider call', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const newToken = t.fixture.token();
      const k = newKey();
      const first = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken }, headers: idem(k) });
      expect(first.status).toBe(204);
      expect(first.text).toBe('');
      // A second provider call would now be refused (422).
      t.fixture.setState(newToken, 'revoked');
      const replay = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken }, headers: idem(k) });
      expect(replay.status).toBe(204);
      expect(replay.text).toBe('');
      // The token stored is the one rotated in (now revoked in the fixture).
      expect((await health(t, key, vault.id)).body).toEqual({ ok: false, error: '1Password: invalid service account token' });
    });

    it('replays 204 even when every provider call would be rate limited', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const newToken = t.fixture.token();
      const k = newKey();
      expect((await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken }, headers: idem(k) })).status).toBe(
        204,
      );
      t.fixture.setFaults({ rate_limit_after: 0 });
      const replay = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken }, headers: idem(k) });
      expect(replay.status).toBe(204);
    });

    it('answers 422 with the exact detail for the same key and another token or vault', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const { vault: other } = await createVault(t, key);
      const newToken = t.fixture.token();
      const k = newKey();
      expect((await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken }, headers: idem(k) })).status).toBe(
        204,
      );
      const anotherToken = t.fixture.token();
      const res = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: anotherToken }, headers: idem(k) });
      expect(res.status).toBe(422);
      expect(res.body).toEqual(DIFFERENT_BODY);
      const otherVault = await t.request('PUT', `${VAULTS}/${other.id}/token`, { key, body: { token: newToken }, headers: idem(k) });
      expect(otherVault.status).toBe(422);
      expect(otherVault.body).toEqual(DIFFERENT_BODY);
      // The refused requests changed nothing: revoking the token that was never stored leaves both healthy.
      t.fixture.setState(anotherToken, 'revoked');
      expect((await health(t, key, vault.id)).body).toEqual({ ok: true, error: null });
      expect((await health(t, key, other.id)).body).toEqual({ ok: true, error: null });
    });

    it('answers 422 when a key used for a create is reused for a rotation', async () => {
      const { key } = await t.newOrg();
      const token = t.fixture.token();
      const k = newKey();
      const created = await t.request('POST', VAULTS, { key, body: createBody('x', token), headers: idem(k) });
      expect(created.status).toBe(201);
      const res = await t.request('PUT', `${VAULTS}/${created.body.id}/token`, {
        key,
        body: { token: t.fixture.token() },
        headers: idem(k),
      });
      expect(res.status).toBe(422);
      expect(res.body).toEqual(DIFFERENT_BODY);
    });

    it('answers 409 with Retry-After: 1 while the first rotation is still running', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const newToken = t.fixture.token();
      const k = newKey();
      t.fixture.setFaults({ latency_ms: SLOW_MS });
      const firstPromise = t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken }, headers: idem(k) });
      await sleep(SLOW_MS / 3);
      const second = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken }, headers: idem(k) });
      expectInFlight(second);
      expect((await firstPromise).status).toBe(204);
      t.fixture.setFaults({});
      expect((await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken }, headers: idem(k) })).status).toBe(
        204,
      );
    });

    it('does not keep a failed rotation (503): the retry after the fault is gone succeeds', async () => {
      const { key } = await t.newOrg();
      const { vault, token: oldToken } = await createVault(t, key);
      const newToken = t.fixture.token();
      const k = newKey();
      t.fixture.setFaults({ unavailable: true });
      expect((await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken }, headers: idem(k) })).status).toBe(
        503,
      );
      t.fixture.setFaults({});
      expect((await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken }, headers: idem(k) })).status).toBe(
        204,
      );
      // The new token is the stored one.
      t.fixture.setState(oldToken, 'revoked');
      expect((await health(t, key, vault.id)).body).toEqual({ ok: true, error: null });
    });

    it('does not keep a 404: the key stays usable', async () => {
      const { key } = await t.newOrg();
      const k = newKey();
      const token = t.fixture.token();
      const missing = await t.request('PUT', `${VAULTS}/${MISSING_ID}/token`, { key, body: { token }, headers: idem(k) });
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({ detail: 'Vault not found' });
      // The same request again is still a 404 (not a replay of something else, not a 409).
      const again = await t.request('PUT', `${VAULTS}/${MISSING_ID}/token`, { key, body: { token }, headers: idem(k) });
      expect(again.status).toBe(404);
    });

    it('keeps rotation keys per organization', async () => {
      const a = await t.newOrg();
      const b = await t.newOrg();
      const { vault: va } = await createVault(t, a.key);
      const { vault: vb } = await createVault(t, b.key);
      const k = newKey();
      const tokenA = t.fixture.token();
      const tokenB = t.fixture.token();
      expect((await t.request('PUT', `${VAULTS}/${va.id}/token`, { key: a.key, body: { token: tokenA }, headers: idem(k) })).status).toBe(
        204,
      );
      expect((await t.request('PUT', `${VAULTS}/${vb.id}/token`, { key: b.key, body: { token: tokenB }, headers: idem(k) })).status).toBe(
        204,
      );
      // B's rotation really happened: its vault now uses tokenB.
      t.fixture.setState(tokenB, 'revoked');
      expect((await health(t, b.key, vb.id)).body).toEqual({ ok: false, error: '1Password: invalid service account token' });
      expect((await health(t, a.key, va.id)).body).toEqual({ ok: true, error: null });
    });

    it('answers 422 at ["header","idempotency-key"] for a key longer than 255 characters', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const newToken = t.fixture.token();
      const res = await t.request('PUT', `${VAULTS}/${vault.id}/token`, { key, body: { token: newToken }, headers: idem('k'.repeat(256)) });
      expect(res.status).toBe(422);
      expect(res.body.detail).toHaveLength(1);
      expect(res.body.detail[0]).toMatchObject({ type: 'string_too_long', loc: ['header', 'idempotency-key'], ctx: { max_length: 255 } });
      // Nothing rotated.
      t.fixture.setState(newToken, 'revoked');
      expect((await health(t, key, vault.id)).body).toEqual({ ok: true, error: null });
    });
  });
});
