// The narrow interface the rest of Sesame uses to talk to a secrets provider.
// Only src/providers/onepassword/ knows how 1Password (or its fixture) answers.

/** The closed set of ways a provider call can fail. Callers branch on `kind`, never on messages. */
export type ProviderErrorKind =
  | 'token_malformed' // the token is not shaped like a service account token; checked locally, no network
  | 'token_rejected' // the provider refused the token (invalid, revoked, expired)
  | 'vault_inaccessible' // the token is fine but cannot read the requested vault
  | 'item_not_found' // the item no longer exists (or is not readable)
  | 'rate_limited' // the provider's request budget is spent; retry later
  | 'unavailable' // the provider could not be reached or answered with a server error
  | 'timeout' // our own deadline fired
  | 'internal'; // anything else (a crashed worker, an unexpected answer)

/** Every kind, for code that enumerates them (metrics). */
export const PROVIDER_ERROR_KINDS: readonly ProviderErrorKind[] = [
  'token_malformed',
  'token_rejected',
  'vault_inaccessible',
  'item_not_found',
  'rate_limited',
  'unavailable',
  'timeout',
  'internal',
];

/** Kinds that mean "try again later" rather than "your input is wrong". */
export const RETRYABLE_KINDS: ReadonlySet<ProviderErrorKind> = new Set(['rate_limited', 'unavailable', 'timeout', 'internal']);

export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    readonly kind: ProviderErrorKind,
    /** A short reason safe to show and log: it never contains a token, a value or provider output. */
    message: string,
    /** Seconds until a retry makes sense, when the provider says (rate limits). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }

  get retryable(): boolean {
    return RETRYABLE_KINDS.has(this.kind);
  }
}

/**
 * How each kind reads, in one table: `message` is the ProviderError's own (safe to log), `summary`
 * is what a person is told (a health answer, a 503), `fill` what an agent is told when a fill needs
 * the provider and it fails.
 */
export const PROVIDER_ERRORS: Readonly<
  Record<ProviderErrorKind, { message: string; summary: (opVaultId: string) => string; fill: string }>
> = {
  token_malformed: {
    message: 'the token is not a well-formed service account token',
    summary: () => 'invalid service account token',
    fill: "1Password rejected the vault's token; an administrator must rotate it.",
  },
  token_rejected: {
    message: '1Password rejected the service account token',
    summary: () => 'invalid service account token',
    fill: "1Password rejected the vault's token; an administrator must rotate it.",
  },
  vault_inaccessible: {
    message: 'the service account cannot access this vault',
    summary: (opVaultId) => `this token cannot access vault '${opVaultId}'`,
    fill: "The vault's token cannot read its 1Password vault any more.",
  },
  item_not_found: {
    message: 'the item does not exist or cannot be read',
    summary: () => 'item not found',
    fill: 'The matching item changed in the vault while filling; retry.',
  },
  rate_limited: {
    message: "1Password's request limit for this service account is reached",
    summary: () => 'rate limited',
    fill: '1Password is rate limiting this vault; retry later.',
  },
  unavailable: {
    message: '1Password could not be reached',
    summary: () => 'unreachable',
    fill: '1Password could not be reached; retry shortly.',
  },
  timeout: {
    message: 'the 1Password call did not finish before its deadline',
    summary: () => 'timed out',
    fill: '1Password could not be reached; retry shortly.',
  },
  internal: {
    message: 'unexpected error from 1Password',
    summary: () => 'unexpected error',
    fill: '1Password could not be reached; retry shortly.',
  },
};

/** A ProviderError of `kind` with its fixed message. */
export function providerError(kind: ProviderErrorKind, retryAfterSeconds?: number): ProviderError {
  return new ProviderError(kind, PROVIDER_ERRORS[kind].message, retryAfterSeconds);
}

/** The local shape check's reason is a fixed string (token-format.ts), so it is safe to pass on. */
export function malformedTokenError(reason: string): ProviderError {
  return new ProviderError('token_malformed', `${PROVIDER_ERRORS.token_malformed.message}: ${reason}`);
}

export type TokenCheck = { ok: true } | { ok: false; reason: string };

/** A token that passed the provider's local shape check, with the SHA-256 everything is keyed by. */
export interface ServiceToken {
  readonly secret: string;
  readonly key: string;
}

export type ParsedToken = { ok: true; token: ServiceToken } | { ok: false; reason: string };

/** A token as a caller hands it over: the ServiceToken parseToken gave (checked once), or its text (checked on the call). */
export type TokenInput = ServiceToken | string;

export type AutofillBehavior = 'AnywhereOnWebsite' | 'ExactDomain' | 'Never';

export interface ItemWebsite {
  url: string;
  autofill: AutofillBehavior;
}

/** Item metadata: what matching needs, never a secret value. */
export interface ItemOverview {
  id: string;
  title: string;
  category: string; // "Login", "Password", …
  updatedAt: string; // ISO 8601
  websites: ItemWebsite[];
}

/** The kinds of field Sesame fills; one list, read by the wire schemas and the backends. */
export const FIELD_KINDS = ['text', 'concealed', 'totp'] as const;
export type FieldKind = (typeof FIELD_KINDS)[number];

/** A field of an item as the fill logic sees it. `value` is secret; TOTP `value` is the seed/URI. */
export interface ItemField {
  id: string;
  label: string;
  kind: FieldKind;
  value: string;
}

export interface Item extends ItemOverview {
  fields: ItemField[];
}

export interface CallOptions {
  /** A deadline for the whole call, in milliseconds (the SDK backend's login and request deadlines still apply within it). */
  deadlineMs?: number;
  /**
   * Ask the provider now instead of answering from a brief cache (vault access, item overviews).
   * For decisions that store something or that a person asked for: create, PATCH, rotate, health.
   */
  fresh?: boolean;
}

export interface SecretsProvider {
  /**
   * Pure and local: is this shaped like a service account token? Never calls the network. A request
   * parses its token once and hands the ServiceToken to every call; a call given the text parses it.
   */
  parseToken(token: string): ParsedToken;
  /** Resolves when `token` is accepted and can read `vaultId`; otherwise throws ProviderError. */
  checkVaultAccess(token: TokenInput, vaultId: string, options?: CallOptions): Promise<void>;
  /** Login-capable items of a vault, metadata only. */
  listItems(token: TokenInput, vaultId: string, options?: CallOptions): Promise<ItemOverview[]>;
  /** One item with its fields (secret values included); used only for the duration of a fill. */
  getItem(token: TokenInput, vaultId: string, itemId: string, options?: CallOptions): Promise<Item>;
  /** Drops anything cached for this token (client, metadata). Called on rotation and deletion. */
  forgetToken(token: TokenInput): void;
  /** Releases resources (file watchers, workers). */
  close(): Promise<void>;
}
