import { describe, expect, it } from 'vitest';
import type { AutofillBehavior } from '../providers/provider.js';
import { bestWebsiteMatch, matchWebsite } from './eligibility.js';

interface Case {
  name: string;
  page: string;
  url: string;
  autofill?: AutofillBehavior;
  /** `[hostLabels, pathSegments]`, or null when the website must not match. */
  expected: [number, number] | null;
}

const cases: Case[] = [
  // The spec's own examples.
  { name: 'spec: a subdomain page may use its parent domain', page: 'https://test.hcompany.ai/', url: 'hcompany.ai', expected: [2, 0] },
  { name: 'spec: a sibling subdomain is refused', page: 'https://test.hcompany.ai/', url: 'prod.hcompany.ai', expected: null },
  { name: 'spec: a public suffix website (ai) is refused', page: 'https://test.hcompany.ai/', url: 'ai', expected: null },
  { name: 'exact host counts all its labels', page: 'https://test.hcompany.ai/', url: 'https://test.hcompany.ai', expected: [3, 0] },
  { name: 'a website deeper than the page is refused', page: 'https://hcompany.ai/', url: 'test.hcompany.ai', expected: null },
  { name: 'subdomain test stops at a label boundary', page: 'https://evilexample.com/', url: 'example.com', expected: null },
  {
    name: 'a host that only contains the website host is refused',
    page: 'https://example.com.evil.net/',
    url: 'example.com',
    expected: null,
  },
  { name: 'deep subdomain of the website', page: 'https://a.b.c.example.com/', url: 'example.com', expected: [2, 0] },

  // Public suffixes, ICANN and private sections.
  { name: 'ICANN suffix co.uk is refused', page: 'https://shop.example.co.uk/', url: 'co.uk', expected: null },
  {
    name: 'a registrable domain under co.uk matches its subdomains',
    page: 'https://www.example.co.uk/',
    url: 'example.co.uk',
    expected: [3, 0],
  },
  { name: 'private suffix github.io is refused', page: 'https://user.github.io/', url: 'https://github.io', expected: null },
  { name: 'user.github.io matches itself', page: 'https://user.github.io/', url: 'user.github.io', expected: [3, 0] },
  { name: 'user.github.io does not match another user', page: 'https://other.github.io/', url: 'user.github.io', expected: null },
  { name: 'user.github.io matches its own subdomain', page: 'https://docs.user.github.io/', url: 'user.github.io', expected: [3, 0] },
  { name: 'private suffix blogspot.com is refused', page: 'https://me.blogspot.com/', url: 'blogspot.com', expected: null },
  { name: 'top-level domain com is refused', page: 'https://example.com/', url: 'https://com', expected: null },
  {
    name: 'a public suffix is refused even with ExactDomain',
    page: 'https://github.io/',
    url: 'https://github.io',
    autofill: 'ExactDomain',
    expected: null,
  },
  { name: 'an IDN public suffix (公司.cn) is refused', page: 'https://shop.公司.cn/', url: 'xn--55qx5d.cn', expected: null },
  {
    name: 'a registrable domain under an IDN suffix matches',
    page: 'https://www.example.公司.cn/',
    url: 'example.公司.cn',
    expected: [3, 0],
  },
  { name: 'a single-label host is a suffix and is refused', page: 'https://intranet/', url: 'https://intranet', expected: null },

  // Host normalisation.
  { name: 'IDN page matches a punycode website', page: 'https://bücher.example/', url: 'xn--bcher-kva.example', expected: [2, 0] },
  { name: 'punycode page matches an IDN website', page: 'https://xn--bcher-kva.example/', url: 'https://bücher.example', expected: [2, 0] },
  { name: 'IDN comparison ignores case', page: 'https://shop.BÜCHER.example/', url: 'Bücher.Example', expected: [2, 0] },
  { name: 'trailing dot on the page host is dropped', page: 'https://example.com./login', url: 'example.com', expected: [2, 0] },
  { name: 'trailing dot on the website host is dropped', page: 'https://example.com/', url: 'https://example.com.', expected: [2, 0] },
  { name: 'hosts compare case-insensitively', page: 'https://EXAMPLE.com/', url: 'https://Example.COM', expected: [2, 0] },
  { name: 'a double trailing dot is malformed', page: 'https://example.com../', url: 'example.com', expected: null },
  { name: 'surrounding spaces in a stored url are ignored', page: 'https://example.com/', url: '  example.com  ', expected: [2, 0] },
  { name: 'credentials in the page url do not matter', page: 'https://user:pw@example.com/', url: 'example.com', expected: [2, 0] },
  { name: 'a wildcard website is not a pattern', page: 'https://a.example.com/', url: 'https://*.example.com', expected: null },

  // Ports.
  {
    name: 'explicit website port equals the page port',
    page: 'https://example.com:8443/',
    url: 'https://example.com:8443',
    expected: [2, 0],
  },
  {
    name: 'explicit website port differs from the default page port',
    page: 'https://example.com/',
    url: 'https://example.com:8443',
    expected: null,
  },
  {
    name: 'explicit website port differs from an explicit page port',
    page: 'https://example.com:9443/',
    url: 'https://example.com:8443',
    expected: null,
  },
  {
    name: 'a website without a port matches any port (AnywhereOnWebsite)',
    page: 'https://example.com:8443/',
    url: 'https://example.com',
    expected: [2, 0],
  },
  { name: 'website :443 equals the https default port', page: 'https://example.com/', url: 'https://example.com:443', expected: [2, 0] },
  { name: 'scheme-less website with :443', page: 'https://example.com/', url: 'example.com:443', expected: [2, 0] },
  { name: 'page :443 equals the default port', page: 'https://example.com:443/', url: 'https://example.com:443', expected: [2, 0] },
  {
    name: 'website http :80 names a port that an https page does not use',
    page: 'https://example.com/',
    url: 'http://example.com:80',
    expected: null,
  },
  {
    name: 'an explicit port also binds subdomains',
    page: 'https://app.example.com:8443/',
    url: 'https://example.com:8443',
    expected: [2, 0],
  },

  // ExactDomain and Never.
  {
    name: 'ExactDomain: same host, default ports',
    page: 'https://example.com/',
    url: 'example.com',
    autofill: 'ExactDomain',
    expected: [2, 0],
  },
  {
    name: 'ExactDomain: a subdomain page is refused',
    page: 'https://app.example.com/',
    url: 'example.com',
    autofill: 'ExactDomain',
    expected: null,
  },
  {
    name: 'ExactDomain: page on another port is refused',
    page: 'https://example.com:8443/',
    url: 'example.com',
    autofill: 'ExactDomain',
    expected: null,
  },
  {
    name: 'ExactDomain: same explicit port',
    page: 'https://example.com:8443/',
    url: 'example.com:8443',
    autofill: 'ExactDomain',
    expected: [2, 0],
  },
  {
    name: 'ExactDomain: :443 equals the default port',
    page: 'https://example.com/',
    url: 'https://example.com:443',
    autofill: 'ExactDomain',
    expected: [2, 0],
  },
  {
    name: 'ExactDomain: http website has port 80, not the https page 443',
    page: 'https://example.com/',
    url: 'http://example.com',
    autofill: 'ExactDomain',
    expected: null,
  },
  {
    name: 'ExactDomain on localhost',
    page: 'http://localhost:3000/',
    url: 'http://localhost:3000',
    autofill: 'ExactDomain',
    expected: [1, 0],
  },
  { name: 'Never: exact host still refused', page: 'https://example.com/', url: 'example.com', autofill: 'Never', expected: null },
  { name: 'Never: subdomain page refused', page: 'https://app.example.com/', url: 'example.com', autofill: 'Never', expected: null },

  // IP addresses.
  { name: 'IPv4: same address', page: 'https://192.168.1.10/', url: 'https://192.168.1.10', expected: [4, 0] },
  { name: 'IPv4: another address', page: 'https://192.168.1.11/', url: 'https://192.168.1.10', expected: null },
  { name: 'IPv4: a trailing part is not a parent', page: 'https://192.168.1.10/', url: 'https://168.1.10', expected: null },
  { name: 'IPv4: other notations are canonicalised', page: 'https://192.168.1.10/', url: 'https://0xC0.168.1.10', expected: [4, 0] },
  { name: 'IPv6: same address, different spelling', page: 'https://[2001:db8::1]/', url: 'https://[2001:DB8:0:0::1]', expected: [1, 0] },
  { name: 'IPv6: another address', page: 'https://[2001:db8::1]/', url: 'https://[2001:db8::2]', expected: null },
  { name: 'IPv6: scheme-less stored address', page: 'https://[2001:db8::1]/', url: '[2001:db8::1]', expected: [1, 0] },

  // Secure page and downgrade.
  { name: 'http page on a public host is insecure', page: 'http://example.com/', url: 'http://example.com', expected: null },
  { name: 'http page on localhost', page: 'http://localhost:3000/login', url: 'http://localhost:3000', expected: [1, 0] },
  { name: 'http page on 127.0.0.1', page: 'http://127.0.0.1:8080/', url: 'http://127.0.0.1:8080', expected: [4, 0] },
  { name: 'http page anywhere in 127.0.0.0/8', page: 'http://127.1.2.3/', url: 'http://127.1.2.3', expected: [4, 0] },
  { name: 'http page on [::1]', page: 'http://[::1]:8080/', url: 'http://[::1]:8080', expected: [1, 0] },
  { name: 'http page on app.localhost', page: 'http://app.localhost:5173/', url: 'http://app.localhost', expected: [2, 0] },
  { name: 'http page on a subdomain of app.localhost', page: 'http://x.app.localhost/', url: 'http://app.localhost', expected: [2, 0] },
  {
    name: 'http page on an IPv4-mapped loopback address is insecure',
    page: 'http://[::ffff:127.0.0.1]/',
    url: 'http://[::ffff:127.0.0.1]',
    expected: null,
  },
  { name: 'website localhost does not cover app.localhost', page: 'http://app.localhost/', url: 'http://localhost', expected: null },
  { name: 'app.localhost does not cover a sibling', page: 'http://other.localhost/', url: 'http://app.localhost', expected: null },
  {
    name: 'downgrade: https website on an http loopback page',
    page: 'http://localhost:3000/',
    url: 'https://localhost:3000',
    expected: null,
  },
  { name: 'downgrade: scheme-less website reads as https', page: 'http://localhost:3000/', url: 'localhost:3000', expected: null },
  { name: 'upgrade: http website on an https page', page: 'https://example.com/', url: 'http://example.com', expected: [2, 0] },
  { name: 'https page on localhost', page: 'https://localhost:8443/', url: 'https://localhost:8443', expected: [1, 0] },

  // Scheme-less storage.
  { name: 'scheme-less website', page: 'https://example.com/', url: 'example.com', expected: [2, 0] },
  { name: 'scheme-less website with a path', page: 'https://example.com/account/settings', url: 'example.com/account', expected: [2, 1] },
  { name: 'protocol-relative website', page: 'https://example.com/', url: '//example.com', expected: [2, 0] },

  // Path scores.
  { name: 'path: /log is not a prefix of /login', page: 'https://example.com/login', url: 'https://example.com/log', expected: [2, 0] },
  { name: 'path: /app/ prefixes /app/login', page: 'https://example.com/app/login', url: 'https://example.com/app/', expected: [2, 1] },
  {
    name: 'path: a diverging path counts 0, not its common part',
    page: 'https://example.com/a/c',
    url: 'https://example.com/a/b',
    expected: [2, 0],
  },
  { name: 'path: longer than the page counts 0', page: 'https://example.com/a/b', url: 'https://example.com/a/b/c', expected: [2, 0] },
  { name: 'path: equal paths count every segment', page: 'https://example.com/a/b/c', url: 'https://example.com/a/b/c', expected: [2, 3] },
  { name: 'path: percent-encoding is decoded', page: 'https://example.com/café/x', url: 'https://example.com/caf%c3%a9', expected: [2, 1] },
  { name: 'path: case-sensitive', page: 'https://example.com/admin', url: 'https://example.com/Admin', expected: [2, 0] },
  {
    name: 'path: query and fragment are ignored',
    page: 'https://example.com/login?next=/x#top',
    url: 'https://example.com/login?a=1',
    expected: [2, 1],
  },

  // Unparseable and non-web input.
  { name: 'unparseable page', page: 'not a url', url: 'example.com', expected: null },
  { name: 'unparseable website', page: 'https://example.com/', url: 'https://exa mple.com', expected: null },
  { name: 'empty website', page: 'https://example.com/', url: '', expected: null },
  { name: 'file page', page: 'file:///etc/passwd', url: 'example.com', expected: null },
  { name: 'about:blank page', page: 'about:blank', url: 'example.com', expected: null },
  { name: 'android app website', page: 'https://example.com/', url: 'android://com.example.app', expected: null },
  { name: 'ftp website', page: 'https://example.com/', url: 'ftp://example.com', expected: null },
  { name: 'mailto website', page: 'https://example.com/', url: 'mailto:me@example.com', expected: null },
];

describe('matchWebsite', () => {
  it.each(cases)('$name', ({ page, url, autofill = 'AnywhereOnWebsite', expected }) => {
    const website = { url, autofill };
    const match = matchWebsite(page, website);
    expect(match && [match.hostLabels, match.pathSegments]).toEqual(expected);
    if (match) expect(match.website).toBe(website);
  });

  it('has at least 60 named cases', () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });
});

describe('bestWebsiteMatch', () => {
  it('picks the closest host, then the longest path, among one item’s websites', () => {
    const websites = [
      { url: 'prod.example.com', autofill: 'AnywhereOnWebsite' as const },
      { url: 'example.com/app/login', autofill: 'AnywhereOnWebsite' as const },
      { url: 'app.example.com', autofill: 'AnywhereOnWebsite' as const },
      { url: 'app.example.com/app', autofill: 'AnywhereOnWebsite' as const },
    ];
    expect(bestWebsiteMatch('https://app.example.com/app/login', websites)?.website).toBe(websites[3]);
  });

  it('is null when no website matches or the page does not parse', () => {
    const websites = [{ url: 'example.com', autofill: 'AnywhereOnWebsite' as const }];
    expect(bestWebsiteMatch('https://example.org/', websites)).toBeNull();
    expect(bestWebsiteMatch('::', websites)).toBeNull();
    expect(bestWebsiteMatch('https://example.com/', [])).toBeNull();
  });
});
