// list_secrets and fill_secret_at on a Playwright Page (docs/fill.md, "How a fill is decided"):
// the decisions. The library half: a runner that already holds a Page calls these directly; the HTTP
// routes connect over CDP and call the same functions. Everything a decision uses is read from the
// browser at request time (page-driver.ts); the value lives only in local variables of one fill and
// reaches the page only inside the element's own frame (in-page.ts).
import type { Page } from 'playwright-core';
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
import { type ItemOverview, PROVIDER_ERRORS, ProviderError } from '../../providers/provider.js';
import {
  BrowserError,
  type FillAnswer,
  type FillOptions,
  type FillReport,
  type FillRequest,
  type ListSecretsAnswer,
  type SecretFieldInfo,
  type SecretSource,
} from './fill.types.js';
import type { FrameFacts, NotLandedBecause, TypeOutcome } from './in-page.js';
import { locate, PageChanged, readTopFrame, serialized, type Target, typeInto } from './page-driver.js';
import {
  CROSS_SITE_FORM,
  CROSS_SITE_FRAME,
  INSECURE_PAGE,
  NEW_PASSWORD_FIELD,
  NO_VAULT,
  NOT_A_PASSWORD_INPUT,
  notEditable,
  notLanded,
  notVisible,
  OPAQUE_PAGE,
  type Refusal,
  TOO_LONG,
} from './refusals.js';
import { remember, rememberedItem } from './session-memory.js';
import { currentTotpCode, TotpSeedError } from './totp.js';

/** Section 4: which fields can be filled on the page the browser shows now (its top-level page). */
export async function listSecrets(page: Page, source: SecretSource | null, options: FillOptions = {}): Promise<ListSecretsAnswer> {
  const facts = await settled(readTopFrame(page));
  const origin = originOf(facts);
  if (options.report) options.report.origin = origin;
  const refuse = (refusal: Refusal): ListSecretsAnswer => ({ origin, fields: [], ...refusal });
  if (!source) return refuse(NO_VAULT);
  const top = judgeTop([facts]);
  if ('reason' in top) return refuse(top);
  const denied = options.guard?.checkPage?.(top);
  if (denied) return refuse(denied);
  const items = await eligibleItems(top, source);
  if ('reason' in items) return refuse(items);
  const fields = listFillableFields(top, items, { preferItemId: await orGone(rememberedItem(page, source.id, top.origin)) });
  return { origin: top.origin, fields: fields.map(toFieldInfo) };
}

/** Section 5: fill `field` into the input at viewport point (x, y). */
export function fillSecretAt(
  page: Page,
  request: FillRequest,
  source: SecretSource | null,
  options: FillOptions = {},
): Promise<FillAnswer> {
  return serialized(page, async () => {
    const call: FillCall = { page, request, options, report: options.report ?? { origin: null, itemId: null } };
    if (!source) return refuse(call, NO_VAULT);
    let located: Awaited<ReturnType<typeof locate>>;
    try {
      // A frame below one the fill would refuse is not entered.
      located = await locate(page, request.x, request.y, (chain) => !('reason' in judgeChain(chain)));
    } catch (err) {
      if (err instanceof PageChanged) return refuse(call, notLanded(false, 'The page navigated while Sesame was looking at it'));
      throw err;
    }
    return fillLocated(call, source, located.chain, located.target);
  });
}

/** One fill_secret_at call, as the steps below share it. */
interface FillCall {
  page: Page;
  request: FillRequest;
  options: FillOptions;
  report: FillReport;
}

const refuse = ({ request }: FillCall, refusal: Refusal): FillAnswer => ({ filled: false, field: request.field, ...refusal });

async function fillLocated(call: FillCall, source: SecretSource, chain: FrameFacts[], target: Target | null): Promise<FillAnswer> {
  const { request, options, report } = call;
  report.origin = originOf(chain.at(-1));
  // Rules 1 and 3: the page, and every frame down to the element, as the browser shows them now.
  const frames = judgeChain(chain);
  if ('reason' in frames) return refuse(call, frames);
  const { top, frame } = frames;
  if (!target) return refuse(call, notEditable('nothing', request.x, request.y));
  const denied = options.guard?.checkPage?.(frame);
  if (denied) return refuse(call, denied);

  const { facts } = target;
  if (facts.notEditable) return refuse(call, notEditable(facts.notEditable, request.x, request.y));
  if (target.hiddenFrame) return refuse(call, notVisible(target.hiddenFrame, true));
  if (facts.hidden) return refuse(call, notVisible(facts.hidden));
  if (!facts.formTargets.every((url) => formTargetAllowed(url, (chain.at(-1) as FrameFacts).href, top)))
    return refuse(call, CROSS_SITE_FORM);
  // Rule 7. `password` is always concealed: refuse before asking the vault anything.
  const concealedRefusal = !facts.passwordInput ? NOT_A_PASSWORD_INPUT : facts.newPassword ? NEW_PASSWORD_FIELD : undefined;
  if (concealedRefusal && normalizeFieldName(request.field) === 'password') return refuse(call, concealedRefusal);

  const items = await eligibleItems(frame, source);
  if ('reason' in items) return refuse(call, items);
  const chosen = await choose(call, frame, items, source);
  if ('reason' in chosen) return refuse(call, chosen);
  report.itemId = chosen.item.id;
  const concealed = chosen.field.kind === 'concealed';
  if (concealed && concealedRefusal) return refuse(call, concealedRefusal);

  checkNotAborted(options.signal);
  const reserved = await options.guard?.reserve?.();
  if (reserved) return refuse(call, reserved);
  let value: string;
  try {
    value = await readFillValue(source, chosen.item, chosen.field, options);
    checkNotAborted(options.signal);
  } catch (err) {
    await options.guard?.release?.();
    if (err instanceof TotpSeedError) return refuse(call, { reason: 'no_match', detail: `The item's ${err.message}.` });
    const refusal = sourceRefusal(err);
    if (refusal) return refuse(call, refusal);
    throw err;
  }
  let outcome: TypeOutcome;
  try {
    outcome = await typeInto(call.page, target, { value, concealed, code: chosen.field.kind === 'totp' });
  } catch (err) {
    // The document went away during the call: part of a code may have been typed into it.
    if (err instanceof PageChanged) return refuse(call, notLanded(true, 'The page navigated while the value was being typed'));
    throw err;
  } finally {
    value = '';
  }
  if (outcome.outcome === 'filled') {
    await orGone(remember(call.page, source.id, frame.origin, chosen.item.id));
    return { filled: true, field: request.field };
  }
  // Counted against a grant only once something may have reached the page.
  if (outcome.outcome === 'refused' || !outcome.typed) await options.guard?.release?.();
  return refuse(call, typeRefusal(outcome, request));
}

/** The refusal for what the in-page re-check or typing reported. */
function typeRefusal(outcome: Exclude<TypeOutcome, { outcome: 'filled' }>, request: FillRequest): Refusal {
  if (outcome.outcome === 'not_landed') return notLanded(outcome.typed, NOT_LANDED[outcome.why]);
  switch (outcome.refusal) {
    case 'not_editable':
      return notEditable(outcome.because, request.x, request.y);
    case 'not_visible':
      return notVisible(outcome.because);
    case 'cross_site_form':
      return CROSS_SITE_FORM;
    case 'not_a_password_input':
      return NOT_A_PASSWORD_INPUT;
    case 'new_password_field':
      return NEW_PASSWORD_FIELD;
    case 'too_long':
      return TOO_LONG;
  }
}

const NOT_LANDED: Record<NotLandedBecause, string> = {
  changed: 'The page navigated or replaced the field just before typing',
  navigating: 'The page started navigating away as the field was focused or typed into',
  no_focus: 'The field did not keep the focus (the page moved it)',
  focus_left: 'The page moved the focus away from the code boxes while the code was typed',
  refused_input: 'The browser did not accept the text in the field',
  mismatch: 'After typing, the field does not hold the value (the page changed or rejected it)',
};

/**
 * Rules 1 and 3: the top-level page must be a secure page with an origin of its own; every frame
 * below it on the way to the element must be same-site with it (an opaque origin never is) and
 * secure. Answers the URLs matching uses: the top's and the element frame's.
 */
function judgeChain(chain: FrameFacts[]): { top: NormalizedUrl; frame: NormalizedUrl } | Refusal {
  const top = judgeTop(chain);
  if ('reason' in top) return top;
  let frame = top;
  for (let index = 1; index < chain.length; index++) {
    const facts = chain[index] as FrameFacts;
    const url = facts.origin === 'null' ? null : parsePageUrl(matchingUrl(chain, index));
    if (!url || !isSameSite(url, top)) return CROSS_SITE_FRAME;
    if (!isSecurePage(url)) return INSECURE_PAGE;
    frame = url;
  }
  return { top, frame };
}

function judgeTop(chain: FrameFacts[]): NormalizedUrl | Refusal {
  if (chain[0]?.origin === 'null') return OPAQUE_PAGE;
  const top = parsePageUrl(matchingUrl(chain, 0));
  return top && isSecurePage(top) ? top : INSECURE_PAGE;
}

/**
 * The URL a frame is matched by: its own, or for a document whose URL names no host of its own
 * (about:blank, about:srcdoc, blob:) the nearest enclosing document of the same origin, else the origin.
 */
function matchingUrl(chain: FrameFacts[], index: number): string {
  const { origin } = chain[index] as FrameFacts;
  const wanted = parsePageUrl(origin)?.origin;
  for (let i = index; wanted && i >= 0; i--) {
    const { href } = chain[i] as FrameFacts;
    if (parsePageUrl(href)?.origin === wanted) return href;
  }
  return `${origin}/`;
}

/** Rule 6: a form may send the field only to its own document or to a secure page of the page's site. */
function formTargetAllowed(target: string, frameHref: string, top: NormalizedUrl): boolean {
  if (target === frameHref) return true;
  const url = parsePageUrl(target);
  return url !== null && isSecurePage(url) && isSameSite(url, top);
}

/** Selection (sections 2–3), with the agent's account hint applied among tied items. */
async function choose(call: FillCall, frameUrl: NormalizedUrl, items: MatchableItem[], source: SecretSource) {
  const { field, account } = call.request;
  const preferItemId = await orGone(rememberedItem(call.page, source.id, frameUrl.origin));
  const first = selectItem({ pageUrl: frameUrl, items, field, preferItemId });
  if (!first) return noMatch(field);
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
    field,
    preferItemId,
    account: { username: account, usernameOf: (item) => usernames.get(item.id) },
  });
  usernames.clear();
  return hinted ?? noMatch(field, account);
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

/** A provider failure as the agent is told it: an item gone is no match; anything else, the provider is unavailable. */
function sourceRefusal(err: unknown): Refusal | undefined {
  if (!(err instanceof ProviderError)) return undefined;
  return { reason: err.kind === 'item_not_found' ? 'no_match' : 'provider_unavailable', detail: PROVIDER_ERRORS[err.kind].fill };
}

/** The origin to report (answers, audit): the document's own, or null when it has none. */
function originOf(facts: FrameFacts | undefined): string | null {
  return facts && facts.origin !== 'null' ? facts.origin : null;
}

function toFieldInfo(field: FillableField): SecretFieldInfo {
  const info: SecretFieldInfo = { field: field.field, kind: field.kind, ambiguous: field.ambiguous };
  if (field.tiedCount !== undefined) info.tied_count = field.tiedCount;
  return info;
}

function checkNotAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BrowserError('aborted', 'The fill was stopped before anything was typed');
}

/** A page that kept changing under a read-only step, or session bookkeeping that failed: the browser is unusable. */
async function settled<T>(step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (err) {
    if (err instanceof PageChanged) throw new BrowserError('gone', 'The page kept navigating while Sesame was reading it');
    throw err;
  }
}

async function orGone<T>(step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (err) {
    if (err instanceof BrowserError) throw err;
    throw new BrowserError('gone', 'The browser closed the page or the connection while filling');
  }
}
