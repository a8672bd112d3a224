// Keeps tokens out of anything echoed back to a caller.

export const TOKEN_MASK = '**********';

/** Deepest level of an echoed input; anything below is elided so a hostile body cannot blow the stack. */
const MAX_DEPTH = 16;
const MAX_ENTRIES = 100;

// A service account token sent where no `token` key marks it (a bare JSON string body, an array) is still a token.
const TOKEN_LIKE = /^\s*ops_/;

/** A copy of `value` fit to echo in an error body: every `token` property and token-shaped string masked, depth and width bounded. */
export function redactInput(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return TOKEN_LIKE.test(value) ? TOKEN_MASK : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '…';
  if (Array.isArray(value)) return value.slice(0, MAX_ENTRIES).map((item) => redactInput(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value).slice(0, MAX_ENTRIES)) {
    out[key] = key === 'token' ? TOKEN_MASK : redactInput(item, depth + 1);
  }
  return out;
}
