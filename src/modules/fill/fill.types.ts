// The fill library's public shapes: what a runner passes in (a secret source, limits) and gets back.
import type { MatchableField, NormalizedUrl } from '../../matching/index.js';
import type { FieldKind, ItemOverview } from '../../providers/provider.js';
import type { Refusal } from './refusals.js';
import type { TotpClock } from './totp.js';

/** What fill_secret_at answers. */
export type FillAnswer = { filled: true; field: string } | ({ filled: false; field: string } & Refusal);

/** One fillable field as list_secrets names it: no value, no item. */
export interface SecretFieldInfo {
  field: string;
  kind: FieldKind;
  ambiguous: boolean;
  /** Present when ambiguous: how many items tie, never which. */
  tied_count?: number;
}

/** What list_secrets answers; `reason` and `detail` only on a refusal (then `fields` is empty). */
export interface ListSecretsAnswer {
  origin: string | null;
  fields: SecretFieldInfo[];
  reason?: Refusal['reason'];
  detail?: string;
}

/**
 * Where secrets come from: a vault, seen through three narrow calls. Failures are ProviderErrors;
 * `readValue` is called only for the item chosen for a fill (and for the usernames of tied items
 * when the agent passes an account hint).
 */
export interface SecretSource {
  /** Names the vault, so that one browser session keeps to one account per origin (section 3, rule 3). */
  readonly id: string;
  /** Item metadata: websites and update times, no fields. */
  listItems(): Promise<readonly ItemOverview[]>;
  /** An item's field ids, labels and kinds, without values. */
  describeItem(item: ItemOverview): Promise<readonly MatchableField[]>;
  /** The stored value of one field, read now for this fill only. */
  readValue(item: ItemOverview, fieldId: string): Promise<string>;
}

/** Limits a caller's credential puts on fills (a grant's domains and fill count). */
export interface FillGuard {
  /** A refusal for pages the caller may not act on. */
  checkPage?(page: NormalizedUrl): Refusal | undefined;
  /** Called once, just before a value is read; a refusal stops the fill. */
  reserve?(): Promise<Refusal | undefined>;
  /** A reserved fill whose value never reached the page. */
  release?(): Promise<void>;
}

/** What an audit record needs to know about one call. */
export interface FillReport {
  /** Origin of the page (list) or of the element's frame (fill), read from the browser. */
  origin: string | null;
  /** The item chosen, once one was. */
  itemId: string | null;
}

export interface FillOptions {
  guard?: FillGuard;
  /** Once aborted, no value is read or typed any more (the caller's deadline passed). */
  signal?: AbortSignal;
  clock?: TotpClock;
  /** Filled in as the call learns the origin and item, also when it ends in an error (for the audit record). */
  report?: FillReport;
}

export interface FillRequest {
  /** Viewport coordinates (CSS pixels) of the target input. */
  x: number;
  y: number;
  field: string;
  /** A username that picks among tied items. */
  account?: string;
}

/** The browser went away or stopped answering; nothing more is typed. Messages never carry a value. */
export class BrowserError extends Error {
  override readonly name = 'BrowserError';
  constructor(
    readonly kind: 'gone' | 'aborted',
    message: string,
  ) {
    super(message);
  }
}
