// Section 3: which eligible item supplies a requested field, and what list_secrets offers.

import type { FieldKind, ItemOverview, ItemWebsite } from '../providers/provider.js';
import { bestWebsiteMatch, compareMatches, type WebsiteMatch } from './eligibility.js';
import { type MatchableField, normalizeFieldName, resolveFieldName, WELL_KNOWN_FIELD_NAMES } from './fields.js';
import { type NormalizedUrl, parsePageUrl } from './url.js';

/** An item with its fields' ids, labels and kinds; an `Item` (values included) fits as is. */
export type MatchableItem = ItemOverview & { fields: readonly MatchableField[] };

/**
 * The agent's `account` hint. Matching holds no values, so the caller says what each
 * item's username is. `usernameOf` is asked only about `Selection.contenders`: a caller
 * that must load usernames can first select without a hint, load the contenders'
 * usernames, then select again with it.
 */
export interface AccountHint<I extends MatchableItem = MatchableItem> {
  username: string;
  usernameOf: (item: I) => string | undefined;
}

export interface SelectionRequest<I extends MatchableItem = MatchableItem> {
  /** The URL of the frame that owns the target element, as read from the browser. */
  pageUrl: string | NormalizedUrl;
  items: readonly I[];
  /** The requested field name (`username`, `password`, `totp`, or a label). */
  field: string;
  /** The item that already supplied a field for this page origin in this browser session. */
  preferItemId?: string;
  account?: AccountHint<I>;
}

export interface Selection<I extends MatchableItem = MatchableItem> {
  item: I;
  field: I['fields'][number];
  website: ItemWebsite;
  /** True when two or more candidates were left for the deterministic tiebreak (rule 4). */
  ambiguous: boolean;
  /** How many candidates that tiebreak chose among (1 when not ambiguous). */
  tiedCount: number;
  /** The candidates tied on host and path (rules 1–2), the set an account hint chooses from. */
  contenders: readonly I[];
}

export interface FillableField {
  field: string;
  kind: FieldKind;
  ambiguous: boolean;
  /** Present when ambiguous: the number of tied items, never which. */
  tiedCount?: number;
}

interface Eligible<I extends MatchableItem> {
  item: I;
  match: WebsiteMatch;
}

/** The item that supplies `field` on the page, or null (no eligible item holds it, or the hint names none). */
export function selectItem<I extends MatchableItem>(request: SelectionRequest<I>): Selection<I> | null {
  return choose(eligibleItems(request.pageUrl, request.items), request);
}

/**
 * What list_secrets answers for a page: each field name some eligible item can fill, with
 * the kind of the field that would be used. Well-known names first, then labels A–Z.
 * No values, titles or item ids.
 */
export function listFillableFields<I extends MatchableItem>(
  pageUrl: string | NormalizedUrl,
  items: readonly I[],
  options: { preferItemId?: string } = {},
): FillableField[] {
  const eligible = eligibleItems(pageUrl, items);
  const labels = new Set<string>();
  for (const { item } of eligible) {
    // A field already reachable under a well-known name is listed under that name only.
    const claimed = new Set(WELL_KNOWN_FIELD_NAMES.map((name) => resolveFieldName(item.fields, name)));
    for (const field of item.fields) {
      const label = normalizeFieldName(field.label);
      if (label !== '' && !claimed.has(field)) labels.add(label);
    }
  }
  const wellKnown: readonly string[] = WELL_KNOWN_FIELD_NAMES;
  const names = [...wellKnown, ...[...labels].filter((label) => !wellKnown.includes(label)).sort()];
  const fillable: FillableField[] = [];
  for (const name of names) {
    const selection = choose(eligible, { field: name, preferItemId: options.preferItemId });
    if (!selection) continue;
    const { field, ambiguous, tiedCount } = selection;
    fillable.push(ambiguous ? { field: name, kind: field.kind, ambiguous, tiedCount } : { field: name, kind: field.kind, ambiguous });
  }
  return fillable;
}

function eligibleItems<I extends MatchableItem>(pageUrl: string | NormalizedUrl, items: readonly I[]): Eligible<I>[] {
  const page = typeof pageUrl === 'string' ? parsePageUrl(pageUrl) : pageUrl;
  if (!page) return [];
  const eligible: Eligible<I>[] = [];
  for (const item of items) {
    const match = bestWebsiteMatch(page, item.websites);
    if (match) eligible.push({ item, match });
  }
  return eligible;
}

function choose<I extends MatchableItem>(
  eligible: readonly Eligible<I>[],
  { field, preferItemId, account }: Pick<SelectionRequest<I>, 'field' | 'preferItemId' | 'account'>,
): Selection<I> | null {
  const candidates = eligible.flatMap(({ item, match }) => {
    const resolved = resolveFieldName(item.fields, field);
    return resolved ? [{ item, match, field: resolved }] : [];
  });
  // Rules 1–2: closest host, then longest path prefix.
  const best = candidates.reduce<(typeof candidates)[number] | undefined>(
    (top, candidate) => (top && compareMatches(top.match, candidate.match) <= 0 ? top : candidate),
    undefined,
  );
  if (!best) return null;
  const contenders = candidates.filter((candidate) => compareMatches(candidate.match, best.match) === 0);
  // The hint is the agent's explicit choice, so it is applied before the session's implicit one.
  let tied = account ? contenders.filter(({ item }) => sameUsername(account.usernameOf(item), account.username)) : contenders;
  // Rule 3: keep to the account that already filled this origin.
  const preferred = tied.find(({ item }) => item.id === preferItemId);
  if (preferred) tied = [preferred];
  // Rule 4: most recently updated, then smallest item id.
  const [winner] = [...tied].sort((a, b) => newestFirst(a.item, b.item));
  if (!winner) return null;
  return {
    item: winner.item,
    field: winner.field,
    website: winner.match.website,
    ambiguous: tied.length > 1,
    tiedCount: tied.length,
    contenders: contenders.map(({ item }) => item),
  };
}

// Usernames are often e-mail addresses, which people type in any case.
function sameUsername(stored: string | undefined, hint: string): boolean {
  return stored !== undefined && stored.trim().toLowerCase() === hint.trim().toLowerCase();
}

function newestFirst(a: ItemOverview, b: ItemOverview): number {
  const byTime = updatedAt(b) - updatedAt(a);
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

// An unreadable timestamp sorts as the oldest rather than poisoning the order.
function updatedAt(item: ItemOverview): number {
  const time = Date.parse(item.updatedAt);
  return Number.isNaN(time) ? Number.NEGATIVE_INFINITY : time;
}
