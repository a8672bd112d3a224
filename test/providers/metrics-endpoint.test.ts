// GET /metrics on the real server: Prometheus text, no authentication, hidden from the OpenAPI
// document, provider calls counted per outcome, and nothing secret or tenant-specific in it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OP_VAULT } from '../helpers/fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createBody, uniqueName, VAULTS } from '../helpers/vaults.js';

const RATE_LIMIT = 20;

let server: TestServer;
let key: string;
let orgId: string;

beforeAll(async () => {
  server = await startTestServer({ dialect: 'sqlite', env: { SESAME_RATE_LIMIT: String(RATE_LIMIT) } });
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
    // HELP and TYPE lines, and samples: name{label="value",…} number (histogram buckets include le="+Inf").
    for (const line of res.text.split('\n').filter(Boolean)) {
      expect(line).toMatch(
        /^(# (HELP|TYPE) [a-zA-Z_:][\w:]* .+|[a-zA-Z_:][\w:]*(\{\w+="[^"\\\n]*"(,\w+="[^"\\\n]*")*\})? -?(\d+(\.\d+)?(e[+-]?\d+)?|NaN|\+Inf))$/,
      );
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

  it('counts requests by route pattern and status class, their latency, rate-limit refusals and fill outcomes', async () => {
    const vaultRequests = '{method="GET",route="/api/v2/vaults/:vault_id",status_class="4xx"}';
    const before = await sample(`sesame_http_requests_total${vaultRequests}`);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await server.request('GET', `${VAULTS}/${missing}?token=ops_secret`, { key })).status).toBe(404);
    expect((await server.request('GET', `/no/such/path/${missing}`)).status).toBe(404);
    expect(await sample(`sesame_http_requests_total${vaultRequests}`)).toBe(before + 1);
    expect(await sample('sesame_http_requests_total{method="GET",route="unmatched",status_class="4xx"}')).toBeGreaterThanOrEqual(1);
    expect(
      await sample('sesame_http_request_duration_seconds_count{method="GET",route="/api/v2/vaults/:vault_id"}'),
    ).toBeGreaterThanOrEqual(1);

    // A fill whose browser is not allowed fails before any connection; it is counted with its reason.
    const created = await server.request('POST', VAULTS, { key, body: createBody(uniqueName(), server.fixture.token([OP_VAULT])) });
    const fill = await server.request('POST', `${VAULTS}/${created.body.id}/fill`, {
      key,
      body: { cdp_endpoint: 'http://10.9.8.7:9222', x: 1, y: 1, field: 'password' },
    });
    expect(fill.status).toBe(422);
    expect(await sample('sesame_fill_outcomes_total{action="fill",outcome="failed",reason="cdp_endpoint_not_allowed"}')).toBe(1);

    // A credential past its limit.
    const busy = await server.newOrg();
    for (let i = 0; i <= RATE_LIMIT; i++) await server.request('GET', VAULTS, { key: busy.key });
    expect(await sample('sesame_rate_limit_rejections_total{credential="api_key"}')).toBeGreaterThanOrEqual(1);

    // Process metrics; and still no org, vault, key, token or raw URL anywhere.
    const { text } = await server.request('GET', '/metrics');
    expect(text).toContain('# TYPE process_cpu_seconds_total counter');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    for (const leak of [missing, created.body.id, orgId, busy.orgId, key, busy.key, 'ops_secret', '/no/such/path', 'token=']) {
      expect(text).not.toContain(leak);
    }
  });
});
