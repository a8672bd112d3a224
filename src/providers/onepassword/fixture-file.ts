// The fixture file format (docs/onepassword.md, "The fixture file"), read into Maps.
// Error messages name where the file is wrong but never quote it: the file holds tokens and secret values.

import { type AutofillBehavior, FIELD_KINDS, type FieldKind } from '../provider.js';

export type TokenState = 'active' | 'revoked' | 'expired';

export interface FixtureToken {
  state: TokenState;
  vaults: string[];
}

export interface FixtureField {
  id: string;
  type: FieldKind;
  label: string;
  value: string;
}

export interface FixtureItem {
  id: string;
  title: string;
  category: string;
  updatedAt: string;
  websites: { url: string; autofill: AutofillBehavior }[];
  fields: FixtureField[];
}

export interface FixtureVault {
  title: string;
  items: FixtureItem[];
}

export interface FixtureFaults {
  latencyMs: number;
  unavailable: boolean;
  rateLimitAfter: number | null;
}

export interface Fixture {
  tokens: Map<string, FixtureToken>;
  vaults: Map<string, FixtureVault>;
  faults: FixtureFaults;
}

export class FixtureFormatError extends Error {
  override readonly name = 'FixtureFormatError';
}

const TOKEN_STATES: readonly TokenState[] = ['active', 'revoked', 'expired'];
const AUTOFILL: readonly AutofillBehavior[] = ['AnywhereOnWebsite', 'ExactDomain', 'Never'];

function fail(path: string, expected: string): never {
  throw new FixtureFormatError(`${path}: expected ${expected}`);
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'an object');
  return value as Record<string, unknown>;
}

/**
 * A key the format does not know is a mistake (a misspelt `vault` would otherwise leave a token with
 * no vaults, a misspelt `latency` no fault at all). A key is named only when it looks like a field
 * name; anything else might be a value pasted in the wrong place.
 */
function onlyKeys(value: Record<string, unknown>, path: string, allowed: readonly string[]): void {
  const unknown = Object.keys(value).find((key) => !allowed.includes(key));
  if (unknown === undefined) return;
  const named = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/.test(unknown) ? `key '${unknown}'` : 'key';
  throw new FixtureFormatError(`${path}: unexpected ${named} (expected only ${allowed.join(', ')})`);
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(path, 'an array');
  return value;
}

function string(value: unknown, path: string): string {
  if (typeof value !== 'string') fail(path, 'a string');
  return value;
}

function oneOf<T extends string>(value: unknown, options: readonly T[], path: string): T {
  if (!options.includes(value as T)) fail(path, `one of ${options.join(', ')}`);
  return value as T;
}

function readField(value: unknown, path: string): FixtureField {
  const f = object(value, path);
  onlyKeys(f, path, ['id', 'type', 'label', 'value']);
  const id = string(f.id, `${path}.id`);
  return {
    id,
    type: oneOf(f.type, FIELD_KINDS, `${path}.type`),
    label: f.label === undefined ? id : string(f.label, `${path}.label`),
    value: string(f.value, `${path}.value`),
  };
}

function readItem(value: unknown, path: string): FixtureItem {
  const item = object(value, path);
  onlyKeys(item, path, ['id', 'title', 'category', 'updated_at', 'websites', 'fields']);
  const updated = item.updated_at === undefined ? '1970-01-01T00:00:00Z' : string(item.updated_at, `${path}.updated_at`);
  if (Number.isNaN(Date.parse(updated))) fail(`${path}.updated_at`, 'an ISO 8601 date');
  return {
    id: string(item.id, `${path}.id`),
    title: string(item.title, `${path}.title`),
    category: item.category === undefined ? 'Login' : string(item.category, `${path}.category`),
    updatedAt: new Date(updated).toISOString(),
    websites: array(item.websites ?? [], `${path}.websites`).map((w, i) => {
      const website = object(w, `${path}.websites[${i}]`);
      onlyKeys(website, `${path}.websites[${i}]`, ['url', 'autofill']);
      return {
        url: string(website.url, `${path}.websites[${i}].url`),
        autofill:
          website.autofill === undefined ? 'AnywhereOnWebsite' : oneOf(website.autofill, AUTOFILL, `${path}.websites[${i}].autofill`),
      };
    }),
    fields: array(item.fields ?? [], `${path}.fields`).map((f, i) => readField(f, `${path}.fields[${i}]`)),
  };
}

function readFaults(value: unknown): FixtureFaults {
  const faults = object(value ?? {}, 'faults');
  onlyKeys(faults, 'faults', ['latency_ms', 'unavailable', 'rate_limit_after']);
  const latencyMs = faults.latency_ms ?? 0;
  if (typeof latencyMs !== 'number' || !(latencyMs >= 0)) fail('faults.latency_ms', 'a number ≥ 0');
  const unavailable = faults.unavailable ?? false;
  if (typeof unavailable !== 'boolean') fail('faults.unavailable', 'a boolean');
  const rateLimitAfter = faults.rate_limit_after ?? null;
  if (rateLimitAfter !== null && !(Number.isInteger(rateLimitAfter) && (rateLimitAfter as number) >= 0)) {
    fail('faults.rate_limit_after', 'null or an integer ≥ 0');
  }
  return { latencyMs, unavailable, rateLimitAfter: rateLimitAfter as number | null };
}

/** Parses the fixture file's text; throws FixtureFormatError with a message safe to log. */
export function parseFixture(text: string): Fixture {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // V8's message quotes the text around the error, which may be a token.
    throw new FixtureFormatError('the file is not valid JSON');
  }
  const root = object(json, 'the file');
  onlyKeys(root, 'the file', ['tokens', 'vaults', 'faults']);

  const tokens = new Map<string, FixtureToken>();
  // Tokens are named by position, never by value.
  Object.entries(object(root.tokens ?? {}, 'tokens')).forEach(([token, value], i) => {
    const path = `tokens (entry ${i + 1})`;
    const entry = object(value, path);
    onlyKeys(entry, path, ['state', 'vaults']);
    tokens.set(token, {
      state: entry.state === undefined ? 'active' : oneOf(entry.state, TOKEN_STATES, `${path}.state`),
      vaults: array(entry.vaults ?? [], `${path}.vaults`).map((v, j) => string(v, `${path}.vaults[${j}]`)),
    });
  });

  const vaults = new Map<string, FixtureVault>();
  for (const [vaultId, value] of Object.entries(object(root.vaults ?? {}, 'vaults'))) {
    const path = `vaults[${JSON.stringify(vaultId)}]`;
    const vault = object(value, path);
    onlyKeys(vault, path, ['title', 'items']);
    vaults.set(vaultId, {
      title: vault.title === undefined ? '' : string(vault.title, `${path}.title`),
      items: array(vault.items ?? [], `${path}.items`).map((item, i) => readItem(item, `${path}.items[${i}]`)),
    });
  }

  return { tokens, vaults, faults: readFaults(root.faults) };
}
