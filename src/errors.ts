// The domain error catalogue: every way a service can fail a request, as a closed set of codes,
// each with the data the edge needs and the sentence it says. Services throw DomainError and know
// nothing of HTTP; http/errors.ts holds the one table that turns a code into a status, headers and
// (for a 422) the place in the request it is about.
// Data never carries a secret: a token is never part of it, values only where the caller sent them
// and the API echoes them (a vault name, an op_vault_id, a cdp_endpoint).

/** Which request field a refusal of the provider is about. */
export type ProviderField = 'token' | 'op_vault_id';

/** Why an allowed_domains entry was refused. */
export interface DomainProblem {
  index: number;
  input: string;
  problem: 'not_a_host' | 'public_suffix';
  /** The normalised host, for `public_suffix`. */
  host?: string;
}

export interface ErrorData {
  authentication_required: Record<string, never>;
  /** A request to the MCP endpoint from a web page (it carries an Origin header): refused against DNS rebinding. */
  origin_not_allowed: Record<string, never>;
  /** Trusted-gateway mode: X-User-Org is present but not a UUID. */
  invalid_org_id: Record<string, never>;
  rate_limited: { limit: number; windowSeconds: number; retryAfterSeconds: number };
  organization_not_found: { orgId: string };
  vault_not_found: Record<string, never>;
  grant_not_found: Record<string, never>;
  vault_name_taken: { name: string };
  /** A rotation or re-point changed the vault while this request ran, more often than it retries. */
  concurrent_change: Record<string, never>;
  /** The token is not shaped like a service account token (checked locally). */
  token_malformed: { reason: string };
  /** The provider refused the token (invalid, revoked, expired). */
  token_rejected: { field: ProviderField; opVaultId: string };
  /** The token works but cannot read this 1Password vault. */
  vault_inaccessible: { field: ProviderField; opVaultId: string };
  /** The provider could not answer; nothing was changed. */
  provider_unavailable: { reason: string; retryAfterSeconds: number };
  /** The stored token no longer decrypts (its master key is gone, or the row was copied or changed). */
  undecryptable: Record<string, never>;
  idempotency_key_reused: Record<string, never>;
  idempotency_in_progress: Record<string, never>;
  database_unavailable: Record<string, never>;
  /** The disk under the database is full (SQLITE_FULL, PostgreSQL 53100); the write was rolled back whole. */
  storage_full: Record<string, never>;
  /** Another process holds the SQLite write lock (or a PostgreSQL row lock) past the write's deadline. */
  database_busy: Record<string, never>;
  invalid_allowed_domains: { problems: DomainProblem[] };
  /** cdp_endpoint is outside SESAME_CDP_ALLOW; refused before any connection. */
  cdp_not_allowed: { endpoint: string };
  /** The grant is bound to a browser, and the request names another one. */
  cdp_endpoint_mismatch: { endpoint: string };
  /** The grant is bound to one page of its browser, and the request names another one. */
  target_id_mismatch: { targetId: string };
  /** A grant minted with target_id but no cdp_endpoint: a page of which browser? */
  target_id_without_cdp_endpoint: { targetId: string };
  /** No browser to act on: the request names none, and its credential is not a grant bound to one. */
  browser_not_bound: Record<string, never>;
  /** The browser has no page to act on as asked (none, several, no such target_id). */
  page_not_found: { message: string };
  browser_unreachable: { message: string };
  browser_timeout: { message: string };
  browser_gone: { message: string };
}

export type ErrorCode = keyof ErrorData;

/** What each code says, in one sentence a person can act on (the `detail` of a {"detail": …} answer, or the `msg` of a 422 entry). */
const MESSAGES: { [C in ErrorCode]: (data: ErrorData[C]) => string } = {
  authentication_required: () => 'Authentication required',
  origin_not_allowed: () =>
    'Requests from web pages (with an Origin header) are not accepted by the MCP endpoint; connect from an agent runtime or through sesame mcp',
  // The hosted API's wording.
  invalid_org_id: () => 'Invalid user or org ID',
  rate_limited: ({ limit, windowSeconds, retryAfterSeconds }) =>
    `Too many requests: this credential may make ${limit} requests per ${windowSeconds} s. Nothing was done; retry in ${retryAfterSeconds} s.`,
  organization_not_found: ({ orgId }) => `No organization with id ${orgId}`,
  vault_not_found: () => 'Vault not found',
  grant_not_found: () => 'Grant not found',
  vault_name_taken: ({ name }) => `A vault named '${name}' already exists in this organization`,
  concurrent_change: () => 'The vault was changed by another request while this one ran; retry',
  token_malformed: ({ reason }) => `Value is not a 1Password service account token (${reason})`,
  token_rejected: ({ field }) =>
    field === 'token'
      ? '1Password rejected the service account token'
      : '1Password rejected the stored service account token; rotate it with PUT /api/v2/vaults/{vault_id}/token',
  vault_inaccessible: ({ opVaultId }) => `This service account token cannot access 1Password vault '${opVaultId}'`,
  provider_unavailable: ({ reason }) => `1Password is unavailable: ${reason}. Nothing was changed; retry later.`,
  undecryptable: () =>
    'The stored token cannot be decrypted, so the new op_vault_id cannot be checked; rotate the token with PUT /api/v2/vaults/{vault_id}/token first',
  idempotency_key_reused: () => 'Idempotency-Key was already used with a different request body',
  idempotency_in_progress: () => 'A request with this Idempotency-Key is still in progress; retry shortly',
  database_unavailable: () => 'The database is unavailable. Nothing was changed; retry later.',
  storage_full: () => "The server's storage is full. Nothing was changed; retry later.",
  database_busy: () => 'The database is locked by another process. Nothing was changed; retry later.',
  invalid_allowed_domains: ({ problems }) =>
    `${problems.length} allowed_domains entr${problems.length === 1 ? 'y is' : 'ies are'} not a domain`,
  cdp_not_allowed: () => 'Value error, cdp_endpoint is not allowed by this server (SESAME_CDP_ALLOW)',
  cdp_endpoint_mismatch: () =>
    'Value error, this grant is bound to another browser: leave cdp_endpoint out, or send the one the grant was minted with',
  target_id_mismatch: () =>
    'Value error, this grant is bound to another page: leave target_id out, or send the one the grant was minted with',
  target_id_without_cdp_endpoint: () => 'Value error, target_id names a page of the browser at cdp_endpoint; send both',
  browser_not_bound: () => 'Field required',
  page_not_found: ({ message }) => `Value error, ${message}`,
  browser_unreachable: ({ message }) => message,
  browser_timeout: ({ message }) => message,
  browser_gone: ({ message }) => message,
};

type DataArgument<C extends ErrorCode> = Record<string, never> extends ErrorData[C] ? [data?: ErrorData[C]] : [data: ErrorData[C]];

export class DomainError<C extends ErrorCode = ErrorCode> extends Error {
  override readonly name = 'DomainError';
  readonly data: ErrorData[C];

  constructor(
    readonly code: C,
    ...[data]: DataArgument<C>
  ) {
    const values = (data ?? {}) as ErrorData[C];
    super(MESSAGES[code](values));
    this.data = values;
  }

  /** Narrows to one code. */
  is<K extends ErrorCode>(code: K): this is DomainError<K> {
    return (this.code as ErrorCode) === code;
  }
}

export const isDomainError = <C extends ErrorCode>(err: unknown, code?: C): err is DomainError<C> =>
  err instanceof DomainError && (code === undefined || err.code === code);
