import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AutofillBehavior, ItemWebsite } from '../providers/provider.js';
import { bestWebsiteMatch, matchWebsite } from './eligibility.js';
import type { MatchableField } from './fields.js';
import { type MatchableItem, selectItem } from './rank.js';
import { registrableDomain } from './site.js';
import { isSecurePage, parsePageUrl, parseWebsiteUrl } from './url.js';

const RUNS = { numRuns: 200 };

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const tld = fc.constantFrom('com', 'org', 'ai', 'co.uk', 'io', 'dev');
const autofill = fc.constantFrom<AutofillBehavior>('AnywhereOnWebsite', 'ExactDomain', 'Never');
const scheme = fc.constantFrom('https://', 'http://', '');
const port = fc.constantFrom('', ':443', ':8443');
const path = fc.constantFrom('', '/', '/app', '/app/login', '/log', '/login');

describe('matching properties', () => {
  it('a sibling subdomain never matches', () => {
    fc.assert(
      fc.property(
        label,
        label,
        label,
        tld,
        fc.array(label, { maxLength: 2 }),
        autofill,
        scheme,
        (a, b, base, suffix, deeper, mode, prefix) => {
          fc.pre(a !== b);
          const page = `https://${[...deeper, b, base, suffix].join('.')}/`;
          expect(matchWebsite(page, { url: `${prefix}${a}.${base}.${suffix}`, autofill: mode })).toBeNull();
        },
      ),
      RUNS,
    );
  });

  it('a website on another registrable domain never matches', () => {
    fc.assert(
      fc.property(
        label,
        label,
        tld,
        tld,
        fc.array(label, { maxLength: 2 }),
        fc.array(label, { maxLength: 2 }),
        autofill,
        (a, b, ta, tb, subA, subB, mode) => {
          const pageHost = [...subA, a, ta].join('.');
          const siteHost = [...subB, b, tb].join('.');
          fc.pre(registrableDomain(pageHost) !== registrableDomain(siteHost));
          expect(matchWebsite(`https://${pageHost}/`, { url: siteHost, autofill: mode })).toBeNull();
        },
      ),
      RUNS,
    );
  });

  it('a public suffix website never matches anything', () => {
    const suffix = fc.constantFrom('com', 'co.uk', 'uk', 'ai', 'io', 'github.io', 'blogspot.com', 'herokuapp.com', 'intranet');
    fc.assert(
      fc.property(suffix, fc.array(label, { maxLength: 3 }), scheme, port, path, autofill, (host, sub, prefix, p, pagePath, mode) => {
        const page = `https://${[...sub, host].join('.')}${p}${pagePath}`;
        expect(matchWebsite(page, { url: `${prefix}${host}${p}`, autofill: mode })).toBeNull();
      }),
      RUNS,
    );
  });

  it('a page that matches an ExactDomain website has its host and port', () => {
    const host = fc.constantFrom('example.com', 'app.example.com', 'Example.COM.', 'localhost', 'app.localhost', '127.0.0.1', '[::1]');
    fc.assert(
      fc.property(scheme, host, port, path, scheme, fc.option(host), port, path, (ps, ph, pp, ppath, ss, sh, sp, spath) => {
        const page = `${ps || 'https://'}${ph}${pp}${ppath}`;
        // A missing site host reuses the page's, so that matches are common.
        const match = matchWebsite(page, { url: `${ss}${sh ?? ph}${sp}${spath}`, autofill: 'ExactDomain' });
        if (!match) return;
        const pageUrl = parsePageUrl(page);
        const site = parseWebsiteUrl(match.website.url);
        expect(pageUrl?.host).toBe(site?.host);
        expect(pageUrl?.port).toBe(site?.port);
      }),
      RUNS,
    );
  });

  it('a match implies a secure page and no https-to-http downgrade', () => {
    const host = fc.constantFrom('example.com', 'a.example.com', 'localhost', 'app.localhost', '127.0.0.1', '[::1]');
    fc.assert(
      fc.property(fc.constantFrom('https://', 'http://'), host, scheme, host, autofill, (ps, ph, ss, sh, mode) => {
        const page = `${ps}${ph}/`;
        const url = `${ss}${sh}`;
        if (!matchWebsite(page, { url, autofill: mode })) return;
        expect(isSecurePage(page)).toBe(true);
        expect(parseWebsiteUrl(url)?.scheme === 'https' && ps === 'http://').toBe(false);
      }),
      RUNS,
    );
  });

  it('parsing and matching never throw', () => {
    const text = fc.oneof(fc.string(), fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.string({ unit: 'binary' }));
    fc.assert(
      fc.property(text, text, autofill, (page, url, mode) => {
        parsePageUrl(page);
        parseWebsiteUrl(url);
        isSecurePage(page);
        matchWebsite(page, { url, autofill: mode });
      }),
      RUNS,
    );
  });
});

// Items drawn from a small world so that ties, parents and siblings happen often.
const PAGES = [
  'https://app.example.com/app/login',
  'https://a.app.example.com/app',
  'https://example.com:8443/',
  'http://localhost:3000/app',
];
const website: fc.Arbitrary<ItemWebsite> = fc.record({
  url: fc
    .tuple(
      fc.constantFrom('https://', '', 'http://'),
      fc.constantFrom('example.com', 'app.example.com', 'a.app.example.com', 'other.example.com', 'localhost', 'app.localhost'),
      fc.constantFrom('', '', '', ':8443', ':3000'),
      path,
    )
    .map((parts) => parts.join('')),
  autofill: fc.oneof({ weight: 4, arbitrary: fc.constant<AutofillBehavior>('AnywhereOnWebsite') }, { weight: 1, arbitrary: autofill }),
});
const FIELDS: MatchableField[] = [
  { id: 'username', label: 'username', kind: 'text' },
  { id: 'password', label: 'password', kind: 'concealed' },
  { id: 'otp', label: 'one-time password', kind: 'totp' },
];
const matchableItem = (id: fc.Arbitrary<string>): fc.Arbitrary<MatchableItem> =>
  fc.record({
    id,
    title: fc.constant('title'),
    category: fc.constant('Login'),
    updatedAt: fc.constantFrom('2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', '2024-06-01T00:00:00Z', 'not a date'),
    websites: fc.array(website, { minLength: 1, maxLength: 3 }),
    fields: fc.subarray(FIELDS, { minLength: 1 }),
  });
const itemList = fc.uniqueArray(matchableItem(fc.stringMatching(/^item-[a-f0-9]{1,3}$/)), {
  selector: (item) => item.id,
  minLength: 1,
  maxLength: 10,
});
const request = fc.record({
  pageUrl: fc.constantFrom(...PAGES),
  field: fc.constantFrom('username', 'password', 'totp'),
  preferItemId: fc.option(fc.stringMatching(/^item-[a-f0-9]{1,3}$/), { nil: undefined }),
});

function outcome(selection: ReturnType<typeof selectItem>) {
  return selection && { id: selection.item.id, ambiguous: selection.ambiguous, tiedCount: selection.tiedCount };
}

describe('selection properties', () => {
  it('the winner does not depend on the order of the items', () => {
    fc.assert(
      fc.property(
        itemList.chain((items) => fc.tuple(fc.constant(items), fc.shuffledSubarray(items, { minLength: items.length }))),
        request,
        ([items, shuffled], req) => {
          expect(outcome(selectItem({ ...req, items: shuffled }))).toEqual(outcome(selectItem({ ...req, items })));
        },
      ),
      RUNS,
    );
  });

  it('adding an ineligible item never changes the winner', () => {
    const ineligibleSite = fc.oneof(
      fc.record({ url: fc.constantFrom('example.org', 'https://com', 'example.com.evil.net', 'b.example.com'), autofill }),
      fc.record({
        url: fc.constantFrom('example.com', 'app.example.com', 'localhost:3000'),
        autofill: fc.constant<AutofillBehavior>('Never'),
      }),
    );
    const extra = matchableItem(fc.constantFrom('item-0', 'item-zzz', 'zzz')).chain((base) =>
      fc.array(ineligibleSite, { maxLength: 3 }).map((websites) => ({ ...base, websites })),
    );
    fc.assert(
      fc.property(itemList, extra, request, fc.nat(), (items, added, req, at) => {
        fc.pre(!items.some((existing) => existing.id === added.id));
        expect(bestWebsiteMatch(req.pageUrl, added.websites)).toBeNull();
        const before = outcome(selectItem({ ...req, items }));
        const withAdded = [...items.slice(0, at % (items.length + 1)), added, ...items.slice(at % (items.length + 1))];
        expect(outcome(selectItem({ ...req, items: withAdded }))).toEqual(before);
      }),
      RUNS,
    );
  });
});
