// Small helpers shared by the /api/v2/vaults contract suites.
import { OP_VAULT } from './fixture.js';
import type { TestResponse, TestServer } from './server.js';

export const VAULTS = '/api/v2/vaults';

/** A UUID that no test ever creates. */
export const MISSING_ID = '00000000-0000-4000-8000-000000000000';

export const TOKEN_MASK = '**********';

export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID_LOWER = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The vault object of the API (docs/api.md, "The vault object"). */
export interface VaultObject {
  id: string;
  org_id: string;
  name: string;
  provider_config: { provider: string; op_vault_id: string };
  created_at: string;
  updated_at: string;
}

/** One entry of a 422 list. */
export interface Issue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

export function createBody(name: string, token: string, opVaultId = OP_VAULT): Record<string, unknown> {
  return { name, provider_config: { op_vault_id: opVaultId }, token };
}

export function uniqueName(prefix = 'vault'): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Creates a vault with a fresh active token and expects it to succeed. */
export async function createVault(
  t: TestServer,
  key: string,
  options: { name?: string; token?: string; opVaultId?: string } = {},
): Promise<{ vault: VaultObject; token: string; response: TestResponse }> {
  const token = options.token ?? t.fixture.token([options.opVaultId ?? OP_VAULT]);
  const response = await t.request('POST', VAULTS, { key, body: createBody(options.name ?? uniqueName(), token, options.opVaultId) });
  if (response.status !== 201) throw new Error(`create failed: ${response.status} ${response.text}`);
  return { vault: response.body, token, response };
}

export async function listTotal(t: TestServer, key: string): Promise<number> {
  const response = await t.request('GET', `${VAULTS}?limit=1000`, { key });
  if (response.status !== 200) throw new Error(`list failed: ${response.status} ${response.text}`);
  return response.body.total;
}

export async function health(t: TestServer, key: string, id: string): Promise<TestResponse> {
  return t.request('GET', `${VAULTS}/${id}/health`, { key });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
