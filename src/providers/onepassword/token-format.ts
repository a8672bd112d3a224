// Local shape check of a 1Password service account token (research note §4).
// It runs before any SDK call: a malformed token must never reach the SDK, whose
// WebAssembly core can crash the process on some inputs (an all-zero throttle seed).
// Keep it no stricter than the SDK's own parser: real tokens must never be refused here.
// Reasons are fixed strings; they never quote the token or its decoded fields, which hold key material.

import type { TokenCheck } from '../provider.js';

const TOKEN_PATTERN = /^ops_[A-Za-z0-9+/]+$/;
// Real tokens are about 900 characters; the bound only stops absurd inputs early.
export const MAX_TOKEN_LENGTH = 4096;

const HEX = /^[0-9a-f]+$/i;
const ALL_ZEROS = /^0+$/;
const SEED = /^[0-9a-f]{64}$/i;
// Unpadded base64url of exactly 32 bytes.
const MUK_KEY = /^[A-Za-z0-9_-]{43}$/;
// 1Password's secret key alphabet has no 0, 1, I, O or U.
const SECRET_KEY = /^[2-9A-HJ-NP-TV-Z]{34}$/i;
const DOTTED_DOMAIN = /^[^.\s@]+(\.[^.\s@]+)+$/;
const NO_WHITESPACE = /^\S+$/;
const U32_MAX = 2 ** 32 - 1;

type Json = Record<string, unknown>;

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isString = (value: unknown): value is string => typeof value === 'string';

function validEmail(value: unknown): boolean {
  if (!isString(value)) return false;
  const parts = value.split('@');
  return parts.length === 2 && NO_WHITESPACE.test(parts[0] ?? '') && DOTTED_DOMAIN.test(parts[1] ?? '');
}

function validMuk(value: unknown): boolean {
  return (
    isPlainObject(value) &&
    isString(value.kid) &&
    isString(value.alg) &&
    isString(value.k) &&
    MUK_KEY.test(value.k) &&
    (value.ext === undefined || typeof value.ext === 'boolean')
  );
}

function validUserAuth(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  const { method, alg, salt, iterations } = value;
  return (
    isString(method) &&
    isString(alg) &&
    isString(salt) &&
    Number.isInteger(iterations) &&
    (iterations as number) >= 0 &&
    (iterations as number) <= U32_MAX
  );
}

// Field name → predicate; the order is the order of fields in real tokens.
const REQUIRED_FIELDS: ReadonlyArray<[string, (value: unknown) => boolean]> = [
  ['signInAddress', (v) => isString(v) && NO_WHITESPACE.test(v)],
  ['userAuth', validUserAuth],
  ['email', validEmail],
  ['srpX', (v) => isString(v) && HEX.test(v) && !ALL_ZEROS.test(v)],
  ['muk', validMuk],
  ['secretKey', (v) => isString(v) && SECRET_KEY.test(v.replace(/-/g, ''))],
  ['deviceUuid', isString],
];

const fail = (reason: string): TokenCheck => ({ ok: false, reason });

/** Is `token` shaped like a service account token? Pure and local; the caller trims. */
export function checkTokenFormat(token: string): TokenCheck {
  if (typeof token !== 'string' || !token.startsWith('ops_')) return fail('missing ops_ prefix');
  if (token.length > MAX_TOKEN_LENGTH) return fail('token is too long');
  if (!TOKEN_PATTERN.test(token)) return fail('payload is not valid base64');

  const payload = token.slice(4);
  const bytes = Buffer.from(payload, 'base64');
  // Node's decoder is lenient; the SDK only accepts the canonical unpadded encoding.
  if (bytes.toString('base64').replace(/=+$/, '') !== payload) return fail('payload is not valid base64');

  let credentials: unknown;
  try {
    // Lossy UTF-8 decoding like the SDK's; a byte-order mark is kept, so JSON.parse refuses it as the SDK does.
    credentials = JSON.parse(bytes.toString('utf8'));
  } catch {
    return fail('payload is not a JSON object');
  }
  if (!isPlainObject(credentials)) return fail('payload is not a JSON object');

  for (const [name, valid] of REQUIRED_FIELDS) {
    if (!(name in credentials)) return fail(`field '${name}' is missing`);
    if (!valid(credentials[name])) return fail(`field '${name}' is invalid`);
  }

  // Optional; JSON null counts as absent, as in the SDK.
  const throttle = credentials.throttleSecret;
  if (throttle !== undefined && throttle !== null) {
    if (!isPlainObject(throttle) || !isString(throttle.uuid) || !isString(throttle.seed) || !SEED.test(throttle.seed)) {
      return fail("field 'throttleSecret' is invalid");
    }
    // The SDK's WebAssembly core panics on this seed and takes the process down (research §2.3).
    if (ALL_ZEROS.test(throttle.seed)) return fail('throttle seed is all zeros');
  }
  return { ok: true };
}
