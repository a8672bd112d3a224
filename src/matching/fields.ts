// Section 4: which field of an item a requested name means. Only ids, labels and kinds are
// read, so an `Item` with values may be passed and the value never leaves the caller's object.

import type { ItemField } from '../providers/provider.js';

/** A field as matching sees it: everything but the value. */
export type MatchableField = Omit<ItemField, 'value'>;

/** The names with a meaning of their own; any other name is a label. */
export const WELL_KNOWN_FIELD_NAMES = ['username', 'password', 'totp'] as const;

const USERNAME_LABELS: ReadonlySet<string> = new Set(['username', 'email', 'login']);

/** Names and labels compare trimmed and case-insensitively (`Password`, ` PIN `). */
export function normalizeFieldName(name: string): string {
  return name.trim().toLowerCase();
}

/** The field `name` designates among `fields`, or undefined. */
export function resolveFieldName<F extends MatchableField>(fields: readonly F[], name: string): F | undefined {
  const wanted = normalizeFieldName(name);
  switch (wanted) {
    case 'username':
      return (
        fields.find((field) => field.id === 'username') ??
        fields.find((field) => field.kind === 'text' && USERNAME_LABELS.has(normalizeFieldName(field.label)))
      );
    case 'password':
      // Only a concealed field: the fill lets concealed values into password inputs alone.
      return fields.find((field) => field.id === 'password' && field.kind === 'concealed');
    case 'totp':
      return fields.find((field) => field.kind === 'totp');
    case '':
      return undefined;
    default:
      return fields.find((field) => normalizeFieldName(field.label) === wanted);
  }
}
