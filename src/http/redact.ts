// Keeps tokens out of anything echoed back to a caller.

export const TOKEN_MASK = '**********';

/** Deepest level of an echoed input; anything below is elided so a hostile body cannot blow the stack. */
const MAX_DEPTH = 16;
const MAX_ENTRIES = 100;

// A credential sent where no `token` key marks it (a bare JSON string body, an array element, an
// object key) is still a credential: a service account token, an API key, a grant.
const SECRET_LIKE = /^\s*(?:ops_|sesame_ak_|sesame_gr_)/;

const isSecretLike = (text: string) => SECRET_LIKE.test(text);

/** A copy of `value` fit to echo in an error body: every `token` property and secret-shaped string or key masked, depth and width bounded. */
export function redactInput(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return isSecretLike(value) ? TOKEN_MASK : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '…';
  if (Array.isArray(value)) return value.slice(0, MAX_ENTRIES).map((item) => redactInput(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value).slice(0, MAX_ENTRIES)) {
    // A secret used as a key keeps a place of its own (numbered if several), masked like a value.
    const name = isSecretLike(key) ? uniqueMask(out) : key;
    out[name] = key === 'token' || name !== key ? TOKEN_MASK : redactInput(item, depth + 1);
  }
  return out;
}

/** A `loc` fit to echo: a path segment that is a secret (an object key) is masked. */
export function redactLoc(loc: readonly (string | number)[]): (string | number)[] {
  return loc.map((segment) => (typeof segment === 'string' && isSecretLike(segment) ? TOKEN_MASK : segment));
}

function uniqueMask(taken: Record<string, unknown>): string {
  let name = TOKEN_MASK;
  for (let n = 2; name in taken; n++) name = `${TOKEN_MASK}${n}`;
  return name;
}
