// A token that passed the local shape check once, with the one hash caches, back-offs, worker slots
// and SDK clients are keyed by: never the token itself, so no map holds a plaintext token and a
// rotated token never meets the old one's entries.

import { createHash } from 'node:crypto';
import type { ParsedToken, ServiceToken, TokenCheck, TokenInput } from './provider.js';

export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A parser over a shape check: the token and its key when the check passes. */
export function tokenParser(check: (token: string) => TokenCheck): (token: string) => ParsedToken {
  return (secret) => {
    const result = check(secret);
    return result.ok ? { ok: true, token: { secret, key: tokenKey(secret) } } : result;
  };
}

/** The ServiceToken of `input`: given as one, or parsed now from its text (ProviderError `token_malformed` if it does not parse). */
export function resolveToken(
  input: TokenInput,
  parse: (token: string) => ParsedToken,
  onMalformed: (reason: string) => Error,
): ServiceToken {
  if (typeof input !== 'string') return input;
  const parsed = parse(input);
  if (!parsed.ok) throw onMalformed(parsed.reason);
  return parsed.token;
}
