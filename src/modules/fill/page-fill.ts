// list_secrets and fill_secret_at on a Playwright Page (spec/secret-matching-and-fill.md sections
// 1–5). This is the library half: a runner that already holds a Page calls it directly; the HTTP
// routes connect over CDP and call the same functions. Every URL used for a decision is read from
// the browser, never from the caller. A value lives only in local variables of one fill and reaches
// the browser only through its input pipeline (CDP Input.insertText).
import type { ElementHandle, Frame, Page } from 'playwright-core';
import {
  bestWebsiteMatch,
  type FillableField,
  isSameSite,
  isSecurePage,
  listFillableFields,
  type MatchableField,
  type MatchableItem,
  type NormalizedUrl,
  normalizeFieldName,
  parsePageUrl,
  resolveFieldName,
  selectItem,
} from '../../matching/index.js';
import { type FieldKind, type ItemOverview, ProviderError } from '../../providers/provider.js';
import { originOf } from '../audit/audit.service.js';
import { currentTotpCode, type TotpClock, TotpSeedError } from './totp.js';

export type RefusalReason =
  | 'no_match'
  | 'no_vault'
  | 'insecure_page'
  | 'cross_site_frame'
  | 'not_editable'
  | 'not_a_password_input'
  | 'provider_unavailable'
  | 'grant_expired'
  | 'domain_not_allowed';

export interface Refusal {
  reason: RefusalReason;
  /** One sentence for the agent; never a value, a title or an item id. */
  detail: string;
}

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
  reason?: RefusalReason;
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

/** The browser went away or stopped answering; nothing may have been typed. Messages never carry a value. */
export class BrowserError extends Error {
  override readonly name = 'BrowserError';
  constructor(
    readonly kind: 'gone' | 'aborted',
    message: string,
  ) {
    super(message);
  }
}

const TEXT_INPUT_TYPES: ReadonlySet<string> = new Set(['text', 'email', 'tel', 'password', 'search', 'url', 'number']);
const MAX_FRAME_DEPTH = 16;
const MAX_REMEMBERED_ORIGINS = 1_000;
const MAX_REMEMBERED_SESSIONS = 1_000;

/** Section 4: which fields can be filled on the page the browser shows now (its top-level page). */
export async function listSecrets(page: Page, source: SecretSource | null, options: FillOptions = {}): Promise<ListSecretsAnswer> {
  const topUrl = page.url();
  const origin = originOf(topUrl);
  if (options.report) options.report.origin = origin;
  const refuse = (refusal: Refusal): ListSecretsAnswer => ({ origin, fields: [], ...refusal });
  if (!source) return refuse(NO_VAULT);
  const top = parsePageUrl(topUrl);
  if (!top || !isSecurePage(top)) return refuse(INSECURE_PAGE);
  const denied = options.guard?.checkPage?.(top);
  if (denied) return refuse(denied);
  const items = await eligibleItems(top, source);
  if ('reason' in items) return refuse(items);
  const fields = listFillableFields(top, items, { preferItemId: await rememberedItem(page, source, top.origin) });
  return { origin: top.origin, fields: fields.map(toFieldInfo) };
}

/** Section 5: fill `field` into the input at viewport point (x, y). */
export function fillSecretAt(
  page: Page,
  request: FillRequest,
  source: SecretSource | null,
  options: FillOptions = {},
): Promise<FillAnswer> {
  // One fill at a time per page: two interleaved fills would fight over focus.
  return serialized(page, () => fill(page, request, source, options));
}

async function fill(page: Page, request: FillRequest, source: SecretSource | null, options: FillOptions): Promise<FillAnswer> {
  const { field } = request;
  const report = options.report ?? { origin: null, itemId: null };
  const refuse = (refusal: Refusal): FillAnswer => ({ filled: false, field, ...refusal });
  if (!source) return refuse(NO_VAULT);

  const top = parsePageUrl(page.url());
  report.origin = originOf(page.url());
  if (!top || !isSecurePage(top)) return refuse(INSECURE_PAGE);

  const target = await browserCall(() => elementAt(page, request.x, request.y));
  if (!target) return refuse({ reason: 'not_editable', detail: `There is no element at (${request.x}, ${request.y}).` });
  try {
    return await fillTarget(page, target, top, request, source, options, report);
  } finally {
    await target.element.dispose().catch(() => undefined);
  }
}

async function fillTarget(
  page: Page,
  target: Target,
  top: NormalizedUrl,
  request: FillRequest,
  source: SecretSource,
  options: FillOptions,
  report: FillReport,
): Promise<FillAnswer> {
  const { field } = request;
  const refuse = (refusal: Refusal): FillAnswer => ({ filled: false, field, ...refusal });
  const frameUrlText = effectiveUrl(target.frame);
  const frameUrl = parsePageUrl(frameUrlText);
  report.origin = originOf(frameUrlText);
  // Rule 2: matching uses the element's frame, which must belong to the page's own site.
  if (!frameUrl || !isSameSite(frameUrl, top)) {
    return refuse({ reason: 'cross_site_frame', detail: 'The element is in a frame from another site than the page.' });
  }
  if (!isSecurePage(frameUrl)) return refuse(INSECURE_PAGE);
  const denied = options.guard?.checkPage?.(frameUrl);
  if (denied) return refuse(denied);
  if (!isEditable(target.info)) {
    return refuse({ reason: 'not_editable', detail: `The element at (${request.x}, ${request.y}) is not an editable text field.` });
  }
  const passwordInput = target.info.tag === 'input' && target.info.type === 'password';
  // `password` is always concealed: refuse before asking the vault anything.
  if (normalizeFieldName(field) === 'password' && !passwordInput) return refuse(NOT_A_PASSWORD_INPUT);

  const items = await eligibleItems(frameUrl, source);
  if ('reason' in items) return refuse(items);
  const chosen = await choose(page, frameUrl, items, request, source);
  if ('reason' in chosen) return refuse(chosen);
  report.itemId = chosen.item.id;
  if (chosen.field.kind === 'concealed' && !passwordInput) return refuse(NOT_A_PASSWORD_INPUT);

  checkNotAborted(options.signal);
  const reserved = await options.guard?.reserve?.();
  if (reserved) return refuse(reserved);
  let value: string;
  try {
    value = await readFillValue(source, chosen.item, chosen.field, options);
  } catch (err) {
    await options.guard?.release?.();
    if (err instanceof TotpSeedError) return refuse({ reason: 'no_match', detail: `The item's ${err.message}.` });
    const refusal = sourceRefusal(err);
    if (refusal) return refuse(refusal);
    throw err;
  }
  let typing = false;
  try {
    checkNotAborted(options.signal);
    await browserCall(() => typeInto(page, target, frameUrlText, value, () => (typing = true)));
  } catch (err) {
    // Counted only once the value may have reached the page.
    if (!typing) await options.guard?.release?.();
    throw err;
  } finally {
    value = '';
  }
  await remember(page, source, frameUrl.origin, chosen.item.id);
  return { filled: true, field };
}

/** Selection (sections 2–3), with the agent's account hint applied among tied items. */
async function choose(page: Page, frameUrl: NormalizedUrl, items: MatchableItem[], request: FillRequest, source: SecretSource) {
  const preferItemId = await rememberedItem(page, source, frameUrl.origin);
  const first = selectItem({ pageUrl: frameUrl, items, field: request.field, preferItemId });
  if (!first) return noMatch(request.field);
  const { account } = request;
  if (account === undefined) return first;
  // Matching holds no values: read the usernames of the tied items (and only theirs), then select again.
  const usernames = new Map<string, string | undefined>();
  try {
    for (const item of first.contenders) {
      const username = resolveFieldName(item.fields, 'username');
      usernames.set(item.id, username ? await source.readValue(item, username.id) : undefined);
    }
  } catch (err) {
    const refusal = sourceRefusal(err);
    if (refusal) return refusal;
    throw err;
  }
  const hinted = selectItem({
    pageUrl: frameUrl,
    items,
    field: request.field,
    preferItemId,
    account: { username: account, usernameOf: (item) => usernames.get(item.id) },
  });
  usernames.clear();
  return hinted ?? noMatch(request.field, account);
}

function noMatch(field: string, account?: string): Refusal {
  return {
    reason: 'no_match',
    detail:
      account === undefined
        ? `No item in the vault has a '${field}' field for this page.`
        : `No item for this page has a '${field}' field and the username given as account.`,
  };
}

/** The vault's items eligible for the page, with their field metadata; metadata is asked only for those. */
async function eligibleItems(page: NormalizedUrl, source: SecretSource): Promise<MatchableItem[] | Refusal> {
  try {
    const overviews = (await source.listItems()).filter((item) => bestWebsiteMatch(page, item.websites));
    return await Promise.all(overviews.map(async (item) => ({ ...item, fields: await source.describeItem(item) })));
  } catch (err) {
    const refusal = sourceRefusal(err);
    if (refusal) return refusal;
    throw err;
  }
}

async function readFillValue(source: SecretSource, item: ItemOverview, field: MatchableField, options: FillOptions): Promise<string> {
  const stored = await source.readValue(item, field.id);
  return field.kind === 'totp' ? currentTotpCode(stored, options.clock) : stored;
}

function sourceRefusal(err: unknown): Refusal | undefined {
  if (!(err instanceof ProviderError)) return undefined;
  switch (err.kind) {
    case 'item_not_found':
      return { reason: 'no_match', detail: 'The matching item changed in the vault while filling; retry.' };
    case 'token_malformed':
    case 'token_rejected':
      return { reason: 'provider_unavailable', detail: "1Password rejected the vault's token; an administrator must rotate it." };
    case 'vault_inaccessible':
      return { reason: 'provider_unavailable', detail: "The vault's token cannot read its 1Password vault any more." };
    case 'rate_limited':
      return { reason: 'provider_unavailable', detail: '1Password is rate limiting this vault; retry later.' };
    default:
      return { reason: 'provider_unavailable', detail: '1Password could not be reached; retry shortly.' };
  }
}

const NO_VAULT: Refusal = { reason: 'no_vault', detail: 'No vault is bound to this browser session.' };
const INSECURE_PAGE: Refusal = {
  reason: 'insecure_page',
  detail: 'The page is not served over HTTPS (or from this machine), so nothing is filled into it.',
};
const NOT_A_PASSWORD_INPUT: Refusal = {
  reason: 'not_a_password_input',
  detail: 'Concealed values are filled only into password inputs, so they never show on screen.',
};

function toFieldInfo(field: FillableField): SecretFieldInfo {
  const info: SecretFieldInfo = { field: field.field, kind: field.kind, ambiguous: field.ambiguous };
  if (field.tiedCount !== undefined) info.tied_count = field.tiedCount;
  return info;
}

function checkNotAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BrowserError('aborted', 'The fill was stopped before anything was typed');
}

// ---- In the browser ------------------------------------------------------------------------
// These functions run in the page (serialised by Playwright), so they use only browser globals.
// The project compiles without the DOM library: the few DOM members used are typed here.

interface DomElement {
  tagName: string;
  type?: string;
  readOnly?: boolean;
  isConnected: boolean;
  clientLeft: number;
  clientTop: number;
  shadowRoot: { elementFromPoint(x: number, y: number): DomElement | null } | null;
  ownerDocument: { activeElement: DomElement | null; hasFocus(): boolean };
  matches(selector: string): boolean;
  getBoundingClientRect(): { left: number; top: number };
  focus(): void;
  select?: () => void;
}

interface ElementInfo {
  tag: string;
  /** The input's effective type (`text` for a missing or unknown type attribute); null for other elements. */
  type: string | null;
  disabled: boolean;
  readOnly: boolean;
  /** Where a frame element's content starts, in its frame's viewport. */
  contentLeft: number;
  contentTop: number;
}

interface Target {
  frame: Frame;
  element: ElementHandle<DomElement>;
  info: ElementInfo;
}

function hitTest(point: { x: number; y: number }): DomElement | null {
  const doc = (globalThis as unknown as { document: { elementFromPoint(x: number, y: number): DomElement | null } }).document;
  let element = doc.elementFromPoint(point.x, point.y);
  // Descend into open shadow roots: the host is not what the agent clicked on.
  while (element?.shadowRoot) {
    const inner = element.shadowRoot.elementFromPoint(point.x, point.y);
    if (!inner || inner === element) break;
    element = inner;
  }
  return element;
}

function describe(element: DomElement): ElementInfo {
  const style = (
    globalThis as unknown as { getComputedStyle(e: DomElement): { paddingLeft: string; paddingTop: string } }
  ).getComputedStyle(element);
  const rect = element.getBoundingClientRect();
  const tag = element.tagName.toLowerCase();
  return {
    tag,
    type: tag === 'input' ? String(element.type ?? 'text').toLowerCase() : null,
    disabled: element.matches(':disabled'),
    readOnly: element.readOnly === true,
    contentLeft: rect.left + element.clientLeft + (Number.parseFloat(style.paddingLeft) || 0),
    contentTop: rect.top + element.clientTop + (Number.parseFloat(style.paddingTop) || 0),
  };
}

/** Focuses the element and selects its content, so typing replaces it; false if it cannot take focus. */
function focusAndSelect(element: DomElement): boolean {
  if (!element.isConnected) return false;
  element.focus();
  element.select?.();
  return element.ownerDocument.activeElement === element;
}

// ---- Driving the browser -------------------------------------------------------------------

/** The element at viewport point (x, y), descending into frames (same- and cross-process). */
async function elementAt(page: Page, x: number, y: number): Promise<Target | null> {
  let frame = page.mainFrame();
  let point = { x, y };
  for (let depth = 0; depth < MAX_FRAME_DEPTH; depth++) {
    const element = (await frame.evaluateHandle(hitTest, point)).asElement() as ElementHandle<DomElement> | null;
    if (!element) return null;
    const info = await element.evaluate(describe);
    const child = info.tag === 'iframe' || info.tag === 'frame' ? await element.contentFrame() : null;
    if (!child) return { frame, element, info };
    await element.dispose();
    frame = child;
    point = { x: point.x - info.contentLeft, y: point.y - info.contentTop };
  }
  return null;
}

/** A frame's URL; about:blank and about:srcdoc frames carry their parent's origin, so they are judged by it. */
function effectiveUrl(frame: Frame): string {
  let current: Frame | null = frame;
  while (current && /^about:/i.test(current.url())) current = current.parentFrame();
  return current?.url() ?? frame.url();
}

function isEditable(info: ElementInfo): boolean {
  if (info.disabled || info.readOnly) return false;
  if (info.tag === 'textarea') return true;
  return info.tag === 'input' && info.type !== null && TEXT_INPUT_TYPES.has(info.type);
}

/**
 * Replaces the element's content with `value` through the browser's input pipeline, so frameworks
 * that listen to input events see it. The frame must still show the URL that was checked.
 */
async function typeInto(page: Page, target: Target, checkedUrl: string, value: string, onTyping: () => void): Promise<void> {
  if (effectiveUrl(target.frame) !== checkedUrl) throw new BrowserError('gone', 'The frame navigated away before the value was typed');
  if (!(await target.element.evaluate(focusAndSelect))) {
    throw new BrowserError('gone', 'The field could not take focus; nothing was typed');
  }
  onTyping();
  if (value === '') await page.keyboard.press('Delete');
  else await page.keyboard.insertText(value);
}

/** Runs a browser step; a Playwright failure (closed page, lost connection) becomes a BrowserError with a message of our own. */
async function browserCall<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof BrowserError) throw err;
    throw new BrowserError('gone', 'The browser closed the page or the connection while filling');
  }
}

// ---- Per-page state ------------------------------------------------------------------------

const queues = new WeakMap<Page, Promise<unknown>>();

function serialized<T>(page: Page, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(page) ?? Promise.resolve();
  const next = previous.then(task, task);
  queues.set(
    page,
    next.catch(() => undefined),
  );
  return next;
}

/**
 * Section 3, rule 3: the item that already supplied a field for an origin, per browser session and
 * vault. A session is a browser context as the browser names it: pages of a context that another
 * client created may show up in Playwright's default context, so Playwright's own grouping is not used.
 */
const sessions = new WeakMap<object, Map<string, Map<string, string>>>();
const contextIds = new WeakMap<Page, string>();

async function sessionMemory(page: Page): Promise<Map<string, string>> {
  // Keyed by the connection, so everything remembered goes away with it.
  const owner = page.context().browser() ?? page.context();
  let byContext = sessions.get(owner);
  if (!byContext) {
    byContext = new Map();
    sessions.set(owner, byContext);
  }
  const contextId = await browserContextId(page);
  let memory = byContext.get(contextId);
  if (!memory) {
    memory = new Map();
    byContext.set(contextId, memory);
    if (byContext.size > MAX_REMEMBERED_SESSIONS) byContext.delete(byContext.keys().next().value as string);
  }
  return memory;
}

async function browserContextId(page: Page): Promise<string> {
  const known = contextIds.get(page);
  if (known) return known;
  const session = await page.context().newCDPSession(page);
  try {
    const { targetInfo } = (await session.send('Target.getTargetInfo')) as { targetInfo: { browserContextId?: string } };
    const id = targetInfo.browserContextId ?? 'default';
    contextIds.set(page, id);
    return id;
  } finally {
    await session.detach().catch(() => undefined);
  }
}

async function rememberedItem(page: Page, source: SecretSource, origin: string): Promise<string | undefined> {
  return (await browserCall(() => sessionMemory(page))).get(`${source.id} ${origin}`);
}

async function remember(page: Page, source: SecretSource, origin: string, itemId: string): Promise<void> {
  const memory = await browserCall(() => sessionMemory(page));
  const key = `${source.id} ${origin}`;
  memory.delete(key);
  memory.set(key, itemId);
  if (memory.size > MAX_REMEMBERED_ORIGINS) memory.delete(memory.keys().next().value as string);
}
