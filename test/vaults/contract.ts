// Shared by the /api/v2/vaults contract suites in test/vaults/ (docs/api.md), one file per endpoint: each file
// starts one real HTTP server per database, with the 1Password fixture backend standing in for 1Password.
import { expect } from 'vitest';
import { type Dialect, startTestServer, type TestResponse, type TestServer } from '../helpers/server.js';
import { ISO_UTC, type Issue, UUID_LOWER, type VaultObject } from '../helpers/vaults.js';

// Short provider deadline so "latency beyond the deadline" costs about a second per test.
export const DEADLINE_MS = 1000;
export const SLACK_MS = 1500;

const UNAVAILABLE_DETAIL = /^1Password is unavailable: [^.]+\. Nothing was changed; retry later\.$/;

/** The server of one contract suite, with the short provider deadline the timeout tests rely on. */
export function startContractServer(dialect: Dialect): Promise<TestServer> {
  return startTestServer({ dialect, env: { SESAME_PROVIDER_CALL_TIMEOUT_MS: String(DEADLINE_MS) } });
}

/** The 422 list keyed by loc, so a test can assert every entry without depending on their order. */
export function issuesByLoc(response: TestResponse): Record<string, Issue> {
  expect(response.status).toBe(422);
  expect(Array.isArray(response.body?.detail)).toBe(true);
  const out: Record<string, Issue> = {};
  for (const issue of response.body.detail) out[JSON.stringify(issue.loc)] = issue;
  expect(Object.keys(out)).toHaveLength(response.body.detail.length); // one entry per loc
  return out;
}

export function expectVaultShape(vault: VaultObject): void {
  expect(Object.keys(vault).sort()).toEqual(['created_at', 'id', 'name', 'org_id', 'provider_config', 'updated_at']);
  expect(Object.keys(vault.provider_config).sort()).toEqual(['op_vault_id', 'provider']);
  expect(vault.id).toMatch(UUID_LOWER);
  expect(vault.org_id).toMatch(UUID_LOWER);
  expect(vault.created_at).toMatch(ISO_UTC);
  expect(vault.updated_at).toMatch(ISO_UTC);
}

export function expect503(response: TestResponse): void {
  expect(response.status).toBe(503);
  expect(Object.keys(response.body)).toEqual(['detail']);
  expect(response.body.detail).toMatch(UNAVAILABLE_DETAIL);
  const retryAfter = response.headers.get('retry-after');
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThan(0);
}
