// GET /metrics on the real server: Prometheus text, no authentication, hidden from the OpenAPI
// document, provider calls counted per outcome, and nothing secret or tenant-specific in it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OP_VAULT } from '../helpers/fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createBody, uniqueName, VAULTS } from '../helpers/vaults.js';

let server: TestServer;
let key: string;
let orgId: string;

beforeAll(async () => {
  server = await startTestServer({ dialect: 'sqlite' });
  ({ key, orgId } = await server.newOrg());
});

afterAll(async () => {
  await server.close();
});

/** The value of one series, 0 when absent. */
async function sample(series: string): Promise<number> {
  const { text } = await server.request('GET', '/metrics');
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const calls = (outcome: string) => `sesame_provider_calls_total{backend="fixture",operation="check_vault_access",outcome="${outcome}"}`;

describe('GET /metrics', () => {
  it('serves Prometheus text without authentication, and is not part of the API document', async () => {
    const res = await server.request('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    for (const line of res.text.split('\n').filter(Boolean)) {
      expect(line).toMatch(/^(# (HELP|TYPE) [a-zA-Z_:][\w:]* .+|[a-zA-Z_:][\w:]*(\{\w+="[\w.]*"(,\w+="[\w.]*")*\})? \d+(\.\d+)?)$/);
    }
    const openapi = await server.request('GET', '/openapi.json');
    expect(Object.keys(openapi.body.paths)).not.toContain('/metrics');
  });

  it('counts provider calls per outcome, and carries no token, vault or org', async () => {
    const okBefore = await sample(calls('ok'));
    const rejectedBefore = await sample(calls('token_rejected'));
    const token = server.fixture.token([OP_VAULT]);
    const revoked = server.fixture.token([OP_VAULT], 'revoked');

    const created = await server.request('POST', VAULTS, { key, body: createBody(uniqueName(), token) });
    expect(created.status).toBe(201);
    expect((await server.request('GET', `${VAULTS}/${created.body.id}/health`, { key })).body).toEqual({ ok: true, error: null });
    expect((await server.request('POST', VAULTS, { key, body: createBody(uniqueName(), revoked) })).status).toBe(422);

    // The metric counts calls that reach the backend, inside the server's request budget: an answer
    // from its brief cache is not a provider read. Create and health always ask afresh, so all three count.
    expect(await sample(calls('ok'))).toBe(okBefore + 2);
    expect(await sample(calls('token_rejected'))).toBe(rejectedBefore + 1);

    const { text } = await server.request('GET', '/metrics');
    for (const secret of [token, revoked]) {
      for (let i = 4; i + 12 <= secret.length; i += 6) expect(text.includes(secret.slice(i, i + 12))).toBe(false);
    }
    for (const id of [OP_VAULT, orgId, created.body.id as string, key]) expect(text).not.toContain(id);
  });
});
