// The /api/v2/vaults contract, rules common to every route (docs/api.md, "Authentication" and "Common rules"):
// one 401 for every bad key, 404/405 for unknown routes and methods, 4xx never 5xx for malformed requests,
// JSON error bodies, and the service endpoints (/healthz, /readyz, /openapi.json).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OP_VAULT } from '../helpers/fixture.js';
import { describeDialects, type TestServer } from '../helpers/server.js';
import { createBody, createVault, listTotal, MISSING_ID, VAULTS } from '../helpers/vaults.js';
import { startContractServer } from './contract.js';

describeDialects('vaults contract (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startContractServer(dialect);
  });
  afterAll(() => t?.close());
  // Faults are per server: every test starts with a healthy provider.
  afterEach(() => t.fixture.setFaults({}));

  describe('authentication', () => {
    const routes = (id: string): [string, string, unknown?][] => [
      ['POST', VAULTS, { name: 'x', provider_config: { op_vault_id: OP_VAULT }, token: 'ops_x' }],
      ['GET', VAULTS],
      ['GET', `${VAULTS}/${id}`],
      ['PATCH', `${VAULTS}/${id}`, { name: 'y' }],
      ['PUT', `${VAULTS}/${id}/token`, { token: 'ops_x' }],
      ['DELETE', `${VAULTS}/${id}`],
      ['GET', `${VAULTS}/${id}/health`],
    ];

    it('answers one identical 401 for a missing, malformed, unknown or revoked key on every route', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      const revoked = await t.newOrg();
      await t.revokeKey(revoked.keyId);
      const unknownKey = `sesame_ak_${'A'.repeat(43)}`;
      const variants: Record<string, string | undefined>[] = [
        {},
        { authorization: 'Basic dXNlcjpwYXNz' },
        { authorization: 'Bearer' },
        { authorization: 'Bearer ' },
        { authorization: `Token ${key}` },
        { authorization: 'Bearer not-a-key' },
        { authorization: `Bearer ${key}x` },
        { authorization: `Bearer ${unknownKey}` },
        { authorization: `Bearer ${revoked.key}` },
      ];
      const bodies = new Set<string>();
      for (const [method, path, body] of routes(vault.id)) {
        for (const headers of variants) {
          const res = await t.request(method, path, { body, headers: headers as Record<string, string> });
          expect(res.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
          expect(res.headers.get('www-authenticate')).toBe('Bearer');
          expect(res.body).toEqual({ detail: 'Authentication required' });
          bodies.add(res.text);
        }
      }
      expect(bodies.size).toBe(1);
      // Nothing happened to the vault.
      expect((await t.request('GET', `${VAULTS}/${vault.id}`, { key })).body).toEqual(vault);
    });

    it('checks authentication before anything else about the request', async () => {
      const cases: { method: string; path: string; rawBody?: string; contentType?: string }[] = [
        { method: 'POST', path: VAULTS, rawBody: '{not json', contentType: 'application/json' },
        { method: 'POST', path: VAULTS, rawBody: '{}', contentType: 'text/plain' },
        { method: 'POST', path: VAULTS, rawBody: JSON.stringify({ pad: 'p'.repeat(70 * 1024) }), contentType: 'application/json' },
        { method: 'POST', path: VAULTS, rawBody: '{}', contentType: 'application/json' },
        { method: 'GET', path: `${VAULTS}/not-a-uuid` },
        { method: 'GET', path: `${VAULTS}?limit=0` },
        { method: 'PATCH', path: `${VAULTS}/${MISSING_ID}`, rawBody: '{"token": "x"}', contentType: 'application/json' },
      ];
      for (const c of cases) {
        const headers: Record<string, string> = c.contentType ? { 'content-type': c.contentType } : {};
        const res = await t.request(c.method, c.path, { rawBody: c.rawBody, headers });
        expect(res.status, `${c.method} ${c.path} ${c.contentType}`).toBe(401);
        expect(res.body).toEqual({ detail: 'Authentication required' });
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
    });

    it('stops accepting a key as soon as it is revoked', async () => {
      const { key, keyId } = await t.newOrg();
      expect((await t.request('GET', VAULTS, { key })).status).toBe(200);
      await t.revokeKey(keyId);
      const res = await t.request('GET', VAULTS, { key });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Authentication required' });
    });

    it('accepts a case-insensitive "bearer" scheme', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('GET', VAULTS, { headers: { authorization: `bearer ${key}` } });
      expect(res.status).toBe(200);
    });
  });

  describe('routing and service endpoints', () => {
    it('answers 404 {"detail":"Not Found"} for an unknown route', async () => {
      const { key } = await t.newOrg();
      for (const path of ['/nope', '/api/v2/nope', '/api/v2/vaults/x/y/z', '/api/v1/vaults']) {
        const res = await t.request('GET', path, { key });
        expect(res.status, path).toBe(404);
        expect(res.body).toEqual({ detail: 'Not Found' });
      }
      expect((await t.request('GET', '/api/v2/nope')).body).toEqual({ detail: 'Not Found' });
    });

    it('answers 405 {"detail":"Method Not Allowed"} for a known route with a wrong method', async () => {
      const { key } = await t.newOrg();
      const cases: [string, string][] = [
        ['PUT', VAULTS],
        ['DELETE', VAULTS],
        ['PATCH', VAULTS],
        ['POST', `${VAULTS}/${MISSING_ID}`],
        ['PUT', `${VAULTS}/${MISSING_ID}`],
        ['GET', `${VAULTS}/${MISSING_ID}/token`],
        ['POST', `${VAULTS}/${MISSING_ID}/token`],
        ['POST', `${VAULTS}/${MISSING_ID}/health`],
        ['POST', '/healthz'],
      ];
      for (const [method, path] of cases) {
        const res = await t.request(method, path, { key });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.body).toEqual({ detail: 'Method Not Allowed' });
      }
    });

    it('answers malformed requests with a 4xx, never a 5xx', async () => {
      const { key } = await t.newOrg();
      const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
      const deepObject = `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`;
      const cases: { method: string; path: string; rawBody?: string; headers?: Record<string, string> }[] = [
        { method: 'POST', path: VAULTS, rawBody: deep },
        { method: 'POST', path: VAULTS, rawBody: `{"name": ${deepObject}, "provider_config": ${deepObject}, "token": ${deepObject}}` },
        {
          method: 'POST',
          path: VAULTS,
          rawBody: `{"name": 1e999999, "provider_config": {"op_vault_id": 123456789012345678901234567890}, "token": -0}`,
        },
        {
          method: 'POST',
          path: VAULTS,
          rawBody: '{"name": "\ud800", "provider_config": {"op_vault_id": "\u0000"}, "token": "ops_\u0000"}',
        },
        { method: 'POST', path: VAULTS, rawBody: '{"__proto__": {"name": "x"}, "constructor": {"prototype": {}}}' },
        { method: 'PATCH', path: `${VAULTS}/${MISSING_ID}`, rawBody: deepObject },
        { method: 'GET', path: `${VAULTS}?limit=99999999999999999999999&offset=1e400` },
        { method: 'GET', path: `${VAULTS}?offset=99999999999999999999` },
        { method: 'GET', path: `${VAULTS}?offset=1e400` },
        { method: 'GET', path: `${VAULTS}?offset=9223372036854775808` },
        { method: 'GET', path: `${VAULTS}/%ff%fe` },
        { method: 'GET', path: `${VAULTS}/%ff%fe/health` },
        { method: 'GET', path: `/api/v2/%c0%af` },
      ];
      for (const c of cases) {
        const res = await t.request(c.method, c.path, {
          key,
          rawBody: c.rawBody,
          headers: { 'content-type': 'application/json', ...c.headers },
        });
        expect(res.status, `${c.method} ${c.path} ${c.rawBody?.slice(0, 40)}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${c.method} ${c.path} ${c.rawBody?.slice(0, 40)}`).toBeLessThan(500);
        expect(res.body?.detail).toBeDefined();
        // The error shape of the API, not the framework's ({"error", "code", "message", "statusCode"}).
        expect(Object.keys(res.body)).toEqual(['detail']);
      }
      // A repeated parameter counts as its last value (as FastAPI reads it); unknown parameters are ignored.
      const repeated = await t.request('GET', `${VAULTS}?limit=1&limit=2&offset[]=3`, { key });
      expect(repeated.status).toBe(200);
      expect(repeated.body).toMatchObject({ limit: 2, offset: 0 });
      // Invalid UTF-8 in the body.
      const invalidUtf8 = Buffer.concat([
        Buffer.from('{"name": "'),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from('", "provider_config": {"op_vault_id": "x"}, "token": "ops_x"}'),
      ]);
      const raw = await fetch(`${t.url}${VAULTS}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: invalidUtf8,
      });
      expect(raw.status).toBeGreaterThanOrEqual(400);
      expect(raw.status).toBeLessThan(500);
      expect(await listTotal(t, key)).toBe(0);
    });

    it('refuses control characters and lone surrogates in a name with a 422 (PostgreSQL cannot store NUL)', async () => {
      const { key } = await t.newOrg();
      const { vault } = await createVault(t, key);
      for (const name of ['a\u0000b', 'tab\there', 'surrogate\ud800']) {
        const created = await t.request('POST', VAULTS, { key, body: createBody(name, t.fixture.token()) });
        expect(created.status, created.text).toBe(422);
        expect(created.body.detail).toMatchObject([{ type: 'value_error', loc: ['body', 'name'] }]);
      }
      const renamed = await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { name: 'x\u0000' } });
      expect(renamed.status, renamed.text).toBe(422);
      const repointed = await t.request('PATCH', `${VAULTS}/${vault.id}`, { key, body: { provider_config: { op_vault_id: 'v\u0000' } } });
      expect(repointed.body.detail).toMatchObject([{ type: 'value_error', loc: ['body', 'provider_config', 'op_vault_id'] }]);
      expect(await listTotal(t, key)).toBe(1);
    });

    it('answers errors as application/json', async () => {
      const { key } = await t.newOrg();
      const responses = [
        await t.request('GET', VAULTS),
        await t.request('GET', `${VAULTS}/${MISSING_ID}`, { key }),
        await t.request('GET', `${VAULTS}/nope`, { key }),
        await t.request('PUT', VAULTS, { key }),
        await t.request('GET', '/nope', { key }),
        await t.request('POST', VAULTS, { key, rawBody: 'x', headers: { 'content-type': 'text/plain' } }),
      ];
      for (const res of responses) expect(res.headers.get('content-type'), `${res.status}`).toMatch(/^application\/json/);
    });

    it('answers /healthz and /readyz with 200', async () => {
      const healthz = await t.request('GET', '/healthz');
      expect(healthz.status).toBe(200);
      const readyz = await t.request('GET', '/readyz');
      expect(readyz.status).toBe(200);
    });

    it('serves an OpenAPI 3.1 document listing all seven operations', async () => {
      const res = await t.request('GET', '/openapi.json');
      expect(res.status).toBe(200);
      expect(res.body.openapi).toMatch(/^3\.1\./);
      const operations = Object.entries(res.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
        Object.keys(item)
          // The vault operations; grants, events and fill have suites of their own.
          .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
          .filter((m) => (item[m] as { tags?: string[] }).tags?.includes('Vaults'))
          .map((m) => `${m.toUpperCase()} ${path}`),
      );
      expect(operations.sort()).toEqual(
        [
          'POST /api/v2/vaults',
          'GET /api/v2/vaults',
          'GET /api/v2/vaults/{vault_id}',
          'PATCH /api/v2/vaults/{vault_id}',
          'DELETE /api/v2/vaults/{vault_id}',
          'PUT /api/v2/vaults/{vault_id}/token',
          'GET /api/v2/vaults/{vault_id}/health',
        ].sort(),
      );
      // The token is write-only: no response schema may describe it (names and answers: test/openapi.test.ts).
      expect(res.body.paths['/api/v2/vaults/{vault_id}'].get.responses['200'].content['application/json'].schema).toEqual({
        $ref: '#/components/schemas/VaultConfigRead',
      });
      for (const name of ['VaultConfigRead', 'VaultConfigList', 'OnePasswordConfig', 'VaultHealth']) {
        expect(JSON.stringify(res.body.components.schemas[name])).not.toMatch(/"token"/);
      }
    });
  });
});
