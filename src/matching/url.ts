// URL normalisation for matching: every host and port comparison in src/matching goes
// through these parsers, so "same host" means one thing everywhere. Nothing here throws:
// input that does not parse as an http(s) URL comes back as null, which matches nothing.

export type HostKind = 'domain' | 'ipv4' | 'ipv6';

export interface NormalizedHost {
  /** Lower-cased, IDNA (punycode) form, no trailing dot; IPv6 in brackets (`[::1]`). */
  host: string;
  kind: HostKind;
}

export interface NormalizedUrl extends NormalizedHost {
  scheme: 'http' | 'https';
  /** Effective port: the explicit port, else the scheme default. */
  port: number;
  /** Whether the URL text names a port, even one equal to the scheme default. */
  explicitPort: boolean;
  /** Path segments, percent-decoded, empty segments dropped (`/a//b/` → `['a', 'b']`). */
  path: string[];
  /** `scheme://host[:port]`, the port only when it is not the scheme default. */
  origin: string;
}

const DEFAULT_PORTS = { http: 80, https: 443 } as const;

// A leading `name:` is a scheme unless digits follow, as in `localhost:3000`.
const SCHEME = /^[a-z][a-z0-9+.-]*:(?!\d)/i;

/** The URL of the page (or frame) the browser shows. Only http(s) URLs parse. */
export function parsePageUrl(url: string): NormalizedUrl | null {
  return parseHttpUrl(url);
}

/** A website stored on an item. A stored URL without a scheme is read as https. */
export function parseWebsiteUrl(url: string): NormalizedUrl | null {
  const text = url.trim();
  return parseHttpUrl(SCHEME.test(text) ? text : `https://${text.replace(/^[\\/]+/, '')}`);
}

/** Normalises a bare host (`Example.COM.`, `bücher.example`, `::1`); null if it is not exactly a host. */
export function normalizeHost(host: string): NormalizedHost | null {
  const text = host.trim();
  const bracketed = text.includes(':') && !text.startsWith('[') ? `[${text}]` : text;
  const url = tryUrl(`https://${bracketed}/`);
  if (!url || url.username || url.password || url.port || url.pathname !== '/' || url.search || url.hash) return null;
  return classifyHost(url.hostname);
}

export function isLoopbackHost({ host, kind }: NormalizedHost): boolean {
  switch (kind) {
    case 'ipv4':
      return host.startsWith('127.');
    case 'ipv6':
      return host === '[::1]';
    case 'domain':
      return host === 'localhost' || host.endsWith('.localhost');
  }
}

/** Rule 1: https, or http on a loopback host. Anything else, unparseable included, is insecure. */
export function isSecurePage(page: string | NormalizedUrl): boolean {
  const url = typeof page === 'string' ? parsePageUrl(page) : page;
  if (!url) return false;
  return url.scheme === 'https' || isLoopbackHost(url);
}

function parseHttpUrl(text: string): NormalizedUrl | null {
  const url = tryUrl(text);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return null;
  const host = classifyHost(url.hostname);
  if (!host) return null;
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const defaultPort = DEFAULT_PORTS[scheme];
  const port = url.port === '' ? defaultPort : Number(url.port);
  return {
    ...host,
    scheme,
    port,
    explicitPort: url.port !== '' || namesPort(text),
    path: url.pathname
      .split('/')
      .filter((segment) => segment !== '')
      .map(decodeSegment),
    origin: `${scheme}://${host.host}${port === defaultPort ? '' : `:${port}`}`,
  };
}

function tryUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

// WHATWG URL has already lower-cased, punycoded and canonicalised IP forms (`0x7f.1` → `127.0.0.1`).
function classifyHost(hostname: string): NormalizedHost | null {
  if (hostname.startsWith('[')) return { host: hostname, kind: 'ipv6' };
  // One trailing dot is the DNS root (`example.com.` is `example.com`); any other empty label is malformed.
  const host = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  if (host === '' || host.split('.').includes('')) return null;
  return { host, kind: /^\d+\.\d+\.\d+\.\d+$/.test(host) ? 'ipv4' : 'domain' };
}

// WHATWG URL drops a port equal to the scheme default, but rule 5 cares that one was written
// (`http://example.com:80` must not match an https page on 443).
function namesPort(text: string): boolean {
  const authority = /^[a-z][a-z0-9+.-]*:[\\/]*([^\\/?#]*)/i.exec(text.trim())?.[1] ?? '';
  return /:\d+$/.test(authority.slice(authority.lastIndexOf('@') + 1).replace(/[\t\n\r]/g, ''));
}

// Percent-decoding makes `/caf%C3%A9` and `/café` the same segment; a malformed escape stays as written.
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
