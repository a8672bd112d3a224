// The one place where 1Password SDK errors become ProviderErrors (research §2.2, §3.2, §6).
// The SDK throws plain `Error`s whose only reliable content is the message, so classification
// is by class name first, then by ordered substrings. The resulting message is a fixed reason
// per kind: SDK messages can quote their input and must not travel further.
// The SDK (@1password/sdk 0.5.0, pinned) is deliberately not imported here; class names are compared instead.

import { PROVIDER_ERRORS, ProviderError, type ProviderErrorKind, providerError } from '../provider.js';

export type SdkPhase = 'login' | 'call';

/** Fixed, safe messages: the only messages a provider error ever carries (one per kind, in provider.ts). */
export const PROVIDER_ERROR_MESSAGES: Readonly<Record<ProviderErrorKind, string>> = Object.fromEntries(
  Object.entries(PROVIDER_ERRORS).map(([kind, { message }]) => [kind, message]),
) as Record<ProviderErrorKind, string>;

export interface SdkErrorRule {
  /** Compared case-insensitively against the error message. */
  substring: string;
  kind: ProviderErrorKind;
  /** Only applies in this phase; both when absent. */
  phase?: SdkPhase;
}

/**
 * Ordered: the first matching rule wins. Messages are not a stable API: test/providers/errors.test.ts
 * fails when an installed SDK no longer contains one of these substrings.
 */
export const SDK_ERROR_RULES: readonly SdkErrorRule[] = [
  // The SDK's own token parser refused the token.
  { substring: 'service account token had invalid format', kind: 'token_malformed' },
  { substring: 'invalid service account token', kind: 'token_malformed' },
  { substring: 'createclient requires either `auth`', kind: 'token_malformed' },
  { substring: 'rate limit exceeded', kind: 'rate_limited' },
  // The token no longer works: revoked, expired, or its account is gone. Mid-session these mean the same.
  { substring: 'you are not authenticated', kind: 'token_rejected' },
  { substring: 'bad service account token', kind: 'token_rejected' },
  { substring: 'bad credentials', kind: 'token_rejected' },
  { substring: 'session expired', kind: 'token_rejected' },
  { substring: 'session seems expired', kind: 'token_rejected' },
  { substring: "account couldn't be found", kind: 'token_rejected' },
  // 403 and 404 on the login endpoints: this token cannot sign in to that account.
  { substring: "you don't have the right permissions to access this resource", kind: 'token_rejected', phase: 'login' },
  { substring: 'authentication error: resource not found', kind: 'token_rejected', phase: 'login' },
  // After login, a permission refusal is about the vault, not the token.
  { substring: "you don't have the right permissions to access this resource", kind: 'vault_inaccessible', phase: 'call' },
  { substring: 'you do not have the right permissions to perform this action', kind: 'vault_inaccessible' },
  { substring: "vault couldn't be found", kind: 'vault_inaccessible' },
  { substring: 'does not correspond to a vault', kind: 'vault_inaccessible' },
  { substring: 'no vault matched', kind: 'vault_inaccessible' },
  { substring: "item couldn't be found", kind: 'item_not_found' },
  { substring: 'no item matched', kind: 'item_not_found' },
  { substring: 'error sending request', kind: 'unavailable' },
  { substring: 'unexpected status code', kind: 'unavailable' },
  { substring: 'internal server error', kind: 'unavailable' },
  { substring: 'request timeout', kind: 'unavailable' },
  { substring: 'a conflict occurred', kind: 'unavailable' },
];

// The SDK's custom classes keep `name === "Error"`; the constructor name survives two copies of the package.
export const SDK_ERROR_CLASSES: Readonly<Record<string, ProviderErrorKind>> = {
  RateLimitExceededError: 'rate_limited',
  AuthExpiredError: 'token_rejected',
};

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  // Secrets.validateSecretReference throws a bare string.
  return typeof err === 'string' ? err : '';
}

/** Maps anything the SDK (or a deadline) threw to a ProviderError with a fixed message. */
export function classifySdkError(err: unknown, phase: SdkPhase): ProviderError {
  if (err instanceof ProviderError) return err;
  const className = typeof err === 'object' && err !== null ? err.constructor?.name : undefined;
  const byClass = className === undefined ? undefined : SDK_ERROR_CLASSES[className];
  if (byClass) return providerError(byClass);

  const message = messageOf(err).toLowerCase();
  const rule = SDK_ERROR_RULES.find((r) => (r.phase === undefined || r.phase === phase) && message.includes(r.substring));
  return providerError(rule?.kind ?? 'internal');
}
