// Public suffixes and sites (registrable domains), from the Public Suffix List via tldts.
//
// The private section counts (`github.io`, `blogspot.com` are suffixes): two users' pages
// under one of them are different owners. tldts applies the PSL's implicit `*` rule, so a
// name under an unlisted top-level label is read the same way: `localhost` and any
// single-label host (`intranet`) are suffixes, `app.localhost` is a registrable domain and
// `a.app.localhost` is one of its subdomains. Loopback test sites therefore behave like
// real ones, with `app.localhost` and `other.localhost` being different sites.

import { getDomain, getPublicSuffix } from 'tldts';
import { type NormalizedHost, type NormalizedUrl, normalizeHost, parsePageUrl } from './url.js';

const PSL = { allowPrivateDomains: true } as const;

/** Whether a normalised host is itself a public suffix (`com`, `co.uk`, `github.io`, `localhost`). IPs never are. */
export function isPublicSuffix({ host, kind }: NormalizedHost): boolean {
  return kind === 'domain' && getPublicSuffix(host, PSL) === host;
}

/**
 * The registrable domain ("site") of a host: `a.b.example.co.uk` → `example.co.uk`.
 * An IP address, or a host that is itself a public suffix, is its own site (as in the
 * HTML spec's "obtain a site"). Null only when `host` is not a valid host.
 */
export function registrableDomain(host: string): string | null {
  const normalized = normalizeHost(host);
  return normalized && siteOf(normalized);
}

/** The frame rule: two URLs are same-site when their hosts share a registrable domain. Scheme and port are ignored. */
export function isSameSite(a: string | NormalizedUrl, b: string | NormalizedUrl): boolean {
  const first = typeof a === 'string' ? parsePageUrl(a) : a;
  const second = typeof b === 'string' ? parsePageUrl(b) : b;
  return first !== null && second !== null && siteOf(first) === siteOf(second);
}

function siteOf({ host, kind }: NormalizedHost): string {
  return (kind === 'domain' && getDomain(host, PSL)) || host;
}
