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
  /** Set on use, at most about once a minute per key and instance (auth.service.ts). */
  last_used_at: string | null;
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

/** A running `sesame serve` and its master key ids (never a key), refreshed by a heartbeat. */
export interface ServerInstancesTable {
  id: string;
  host: string;
  pid: number;
  version: string;
  current_key_id: string;
  /** Comma-separated, current first. */
  key_ids: string;
  started_at: string;
  seen_at: string;
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

export interface AuditEventsTable {
  id: string; // time-ordered (UUIDv7), so equal timestamps still sort in the order written
  org_id: string;
  vault_id: string;
  at: string;
  actor_type: 'api_key' | 'grant' | 'gateway';
  actor_id: string;
  action: string;
  origin: string | null; // scheme://host[:port] only: full URLs carry tokens in their query strings
  field: string | null;
  item_id: string | null;
  outcome: 'ok' | 'refused' | 'failed';
  reason: string | null;
}

export interface GrantsTable {
  id: string;
  org_id: string;
  vault_id: string;
  token_hash: string; // sha256 hex of the plaintext grant; the plaintext is never stored
  created_by: string; // the API key that minted it
  created_at: string;
  expires_at: string;
  allowed_domains: string | null; // JSON array of normalised hosts; null = any domain
  max_fills: number | null;
  fills_used: Generated<number>;
  revoked_at: string | null;
  cdp_endpoint: string | null; // the browser a bound grant acts on (as minted); null = unbound
  target_id: string | null; // the page of that browser, when bound to one
}

export interface RateLimitCountersTable {
  bucket: string; // the credential: "key:<id>", "grant:<id>" or "org:<id>" (trusted gateway)
  window_start: string;
  count: number;
}

/** Kept by triggers on vaults (migration 0004); an org's total is the sum of its slots. */
export interface VaultCountsTable {
  org_id: string;
  slot: string; // the first character of the vault id: 16 rows per org share the writes
  vaults: number;
}

export interface Tables {
  organizations: OrganizationsTable;
  api_keys: ApiKeysTable;
  vaults: VaultsTable;
  idempotency_keys: IdempotencyKeysTable;
  audit_events: AuditEventsTable;
  grants: GrantsTable;
  rate_limit_counters: RateLimitCountersTable;
  vault_counts: VaultCountsTable;
  server_instances: ServerInstancesTable;
}
