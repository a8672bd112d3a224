// Section 2: whether one stored website may be used on a page, and how closely it fits.

import type { ItemWebsite } from '../providers/provider.js';
import { isPublicSuffix } from './site.js';
import { isSecurePage, type NormalizedUrl, parsePageUrl, parseWebsiteUrl } from './url.js';

export interface WebsiteMatch {
  /** Labels in the website's host: more labels is a closer host (section 3, rule 1). */
  hostLabels: number;
  /** Whole leading path segments the website path shares with the page path; 0 when not a prefix (rule 2). */
  pathSegments: number;
  website: ItemWebsite;
}

/** Null when the website is not eligible for the page, or when either URL does not parse. */
export function matchWebsite(page: string | NormalizedUrl, website: ItemWebsite): WebsiteMatch | null {
  const pageUrl = typeof page === 'string' ? parsePageUrl(page) : page;
  const site = parseWebsiteUrl(website.url);
  if (!pageUrl || !site || !isSecurePage(pageUrl)) return null;
  if (site.scheme === 'https' && pageUrl.scheme === 'http') return null;
  if (site.explicitPort && site.port !== pageUrl.port) return null;
  if (!hostAllowed(pageUrl, site, website.autofill)) return null;
  return {
    // IP hosts only ever match themselves, so their count is only compared between equal hosts.
    hostLabels: site.host.split('.').length,
    pathSegments: isPrefix(site.path, pageUrl.path) ? site.path.length : 0,
    website,
  };
}

/** The item's website that fits the page best (closest host, then longest path), or null. */
export function bestWebsiteMatch(page: string | NormalizedUrl, websites: readonly ItemWebsite[]): WebsiteMatch | null {
  const pageUrl = typeof page === 'string' ? parsePageUrl(page) : page;
  if (!pageUrl) return null;
  let best: WebsiteMatch | null = null;
  for (const website of websites) {
    const match = matchWebsite(pageUrl, website);
    if (match && (!best || compareMatches(match, best) < 0)) best = match;
  }
  return best;
}

/** Negative when `a` fits the page better than `b`. */
export function compareMatches(a: WebsiteMatch, b: WebsiteMatch): number {
  return b.hostLabels - a.hostLabels || b.pathSegments - a.pathSegments;
}

function hostAllowed(page: NormalizedUrl, site: NormalizedUrl, autofill: ItemWebsite['autofill']): boolean {
  const sameHost = page.host === site.host;
  if (isPublicSuffix(site)) {
    // `localhost` is a suffix like `com`, yet local development sites live on it: a website
    // `localhost` may name that exact host, never `*.localhost` (which are other sites).
    if (site.host !== 'localhost' || !sameHost) return false;
  }
  switch (autofill) {
    case 'ExactDomain':
      return sameHost && page.port === site.port;
    case 'AnywhereOnWebsite':
      if (site.kind !== 'domain' || page.kind !== 'domain') return sameHost;
      return sameHost || page.host.endsWith(`.${site.host}`);
    default:
      // `Never`, and any value this code does not know, matches nothing.
      return false;
  }
}

function isPrefix(prefix: readonly string[], path: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, index) => segment === path[index]);
}
