// Row types of every table, as Kysely sees them. Timestamps are ISO 8601 UTC strings on both
// dialects so ordering and output are identical on SQLite and PostgreSQL.
import type { Generated } from 'kysely';

export interface OrganizationsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface ApiKeysTable {
  id: string;
  org_id: string;
  name: string | null;
  key_hash: string; // sha256 hex of the plaintext key; the plaintext is never stored
  created_at: string;
  revoked_at: string | null;
}

export interface VaultsTable {
  id: string;
  org_id: string;
  name: string;
  provider: string;
  op_vault_id: string;
  token_key_id: string; // which master key wraps the data key
  token_wrapped_key: string;
  token_ciphertext: string;
  token_version: Generated<number>; // bumped on every rotation so caches keyed by it go stale everywhere
  created_at: string;
  updated_at: string;
}

export interface IdempotencyKeysTable {
  org_id: string;
  key: string;
  request_hash: string;
  state: 'pending' | 'done';
  response_status: number | null;
  response_body: string | null;
  created_at: string;
}

export interface Tables {
  organizations: OrganizationsTable;
  api_keys: ApiKeysTable;
  vaults: VaultsTable;
  idempotency_keys: IdempotencyKeysTable;
}
