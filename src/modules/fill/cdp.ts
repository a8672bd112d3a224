// Reaching the agent's browser (docs/fill.md, "Reaching the browser"). The service connects
// to an address a caller gave it, so the address is checked against the configured allow-list
// before any packet is sent, and every later hop (the WebSocket URL a DevTools server answers with)
// is pinned to that same checked host and port. Connections are reused per endpoint and dropped
// when the browser goes away or sits unused.
import { BlockList, isIP } from 'node:net';
import { LRUCache } from 'lru-cache';
import { type Browser, type CDPSession, chromium, type Page } from 'playwright-core';
import { pageLink } from './page-driver.js';

export type CdpErrorKind = 'unreachable' | 'timeout' | 'no_page' | 'several_pages' | 'unknown_target';

/** A problem reaching the browser or finding its page. Messages are safe to show: they never quote browser output. */
export class CdpError extends Error {
  override readonly name = 'CdpError';
  constructor(
    readonly kind: CdpErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface CdpAllowList {
  allows(endpoint: URL): boolean;
}

/** Compiles SESAME_CDP_ALLOW entries (already validated by config) into a matcher. */
export function createCdpAllowList(entries: readonly string[]): CdpAllowList {
  const addresses = new BlockList();
  const names = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of entries) {
    if (entry === 'loopback') {
      addresses.addSubnet('127.0.0.0', 8, 'ipv4');
      addresses.addAddress('::1', 'ipv6');
      names.add('localhost');
    } else if (entry.includes('/')) {
      const [address = '', prefix = ''] = entry.split('/');
      addresses.addSubnet(address, Number(prefix), isIP(address) === 6 ? 'ipv6' : 'ipv4');
    } else if (isIP(entry)) {
      addresses.addAddress(entry, isIP(entry) === 6 ? 'ipv6' : 'ipv4');
    } else if (entry.startsWith('*.')) {
      suffixes.push(entry.slice(1));
    } else {
      names.add(entry);
    }
  }
  return {
    allows(endpoint) {
      if (!['http:', 'https:', 'ws:', 'wss:'].includes(endpoint.protocol) || endpoint.username || endpoint.password) return false;
      // WHATWG URL has already canonicalised the host (0x7f.1 → 127.0.0.1, IDNA, lower case).
      const host = endpoint.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
      const version = isIP(host);
      if (version !== 0) return addresses.check(host, version === 6 ? 'ipv6' : 'ipv4');
      return names.has(host) || suffixes.some((suffix) => host.endsWith(suffix));
    },
  };
}

/** Parses a cdp_endpoint; null when it is not an absolute http(s)/ws(s) URL. */
export function parseCdpEndpoint(text: string): URL | null {
  try {
    const url = new URL(text);
    return ['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) ? url : null;
  } catch {
    return null;
  }
}

export interface CdpPoolOptions {
  /** Deadline of connecting (the DevTools discovery request and the WebSocket handshake). */
  timeoutMs: number;
  /** A connection unused this long is closed. */
  idleMs?: number;
  /** At most this many browsers are kept connected; the least recently used goes first. */
  maxConnections?: number;
}

interface Connection {
  browser: Promise<Browser>;
}

const MAX_DISCOVERY_BYTES = 64 * 1024;

export function createCdpPool({ timeoutMs, idleMs = 5 * 60_000, maxConnections = 32 }: CdpPoolOptions) {
  // By endpoint; each use extends a connection's life. One that leaves (unused too long, the least
  // recently used when too many, the pool closing) is disconnected.
  const connections = new LRUCache<string, Connection>({
    max: maxConnections,
    ttl: idleMs,
    updateAgeOnGet: true,
    ttlAutopurge: true,
    // Closing a browser reached over CDP only disconnects from it: the agent's browser keeps running.
    dispose: (connection) => void connection.browser.then((browser) => browser.close()).catch(() => undefined),
  });
  const browserSessions = new WeakMap<Browser, Promise<CDPSession>>();

  async function connect(endpoint: URL): Promise<Browser> {
    const wsEndpoint = await webSocketEndpoint(endpoint, timeoutMs);
    try {
      return await chromium.connectOverCDP(wsEndpoint, { timeout: timeoutMs });
    } catch (err) {
      throw new CdpError(
        err instanceof Error && err.name === 'TimeoutError' ? 'timeout' : 'unreachable',
        'Could not open a DevTools connection to the browser at cdp_endpoint',
      );
    }
  }

  function browserFor(endpoint: URL): Promise<Browser> {
    const key = endpoint.href;
    const existing = connections.get(key);
    if (existing) return existing.browser;
    const connection: Connection = { browser: connect(endpoint) };
    connections.set(key, connection);
    const forget = () => connections.get(key) === connection && connections.delete(key);
    connection.browser.then((browser) => browser.on('disconnected', forget), forget);
    return connection.browser;
  }

  /** The browser's open pages, asked now: Playwright's own list lags behind pages just opened or closed. */
  async function openPages(browser: Browser): Promise<string[]> {
    let session = browserSessions.get(browser);
    if (!session) {
      session = browser.newBrowserCDPSession();
      browserSessions.set(browser, session);
    }
    try {
      const { targetInfos } = (await (await session).send('Target.getTargets')) as { targetInfos: { targetId: string; type: string }[] };
      return targetInfos.filter((target) => target.type === 'page').map((target) => target.targetId);
    } catch {
      browserSessions.delete(browser);
      throw new CdpError('unreachable', 'The browser stopped answering at cdp_endpoint');
    }
  }

  /** Playwright's Page for a target id; a page opened a moment ago may take a few milliseconds to show up. */
  async function pageWithId(browser: Browser, targetId: string): Promise<Page> {
    const deadline = Date.now() + Math.min(timeoutMs, 2_000);
    for (;;) {
      for (const page of browser.contexts().flatMap((context) => context.pages())) {
        if (
          !page.isClosed() &&
          (await pageLink(page).then(
            (link) => link.targetId,
            () => '',
          )) === targetId
        )
          return page;
      }
      if (Date.now() > deadline) throw new CdpError('unknown_target', 'The browser has no page with this target_id');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  return {
    /** The page to act on: the one with `targetId`, or the only page open. The endpoint must have passed the allow-list. */
    async page(endpoint: URL, targetId?: string): Promise<Page> {
      let browser = await browserFor(endpoint);
      if (!browser.isConnected()) {
        // Closed between its 'disconnected' event and this call: connect afresh.
        connections.delete(endpoint.href);
        browser = await browserFor(endpoint);
      }
      const pages = await openPages(browser);
      if (targetId === undefined) {
        if (pages.length === 0) throw new CdpError('no_page', 'The browser has no open page');
        if (pages.length > 1) throw new CdpError('several_pages', `The browser has ${pages.length} pages open; name one with target_id`);
        return pageWithId(browser, pages[0] as string);
      }
      const wanted = pages.find((id) => id.toUpperCase() === targetId.toUpperCase());
      if (!wanted) throw new CdpError('unknown_target', 'The browser has no page with this target_id');
      return pageWithId(browser, wanted);
    },

    /** How many browsers are connected now (tests, metrics). */
    get size(): number {
      return connections.size;
    },

    async close(): Promise<void> {
      const all = [...connections.values()];
      connections.clear(); // disconnects each (dispose)
      await Promise.all(all.map((c) => c.browser.then((b) => b.close()).catch(() => undefined)));
    },
  };
}

export type CdpPool = ReturnType<typeof createCdpPool>;

/**
 * The browser-level WebSocket URL. For an http(s) endpoint, asks its DevTools server
 * (/json/version) without following redirects, and keeps only the path of the answer: the host
 * and port stay the ones that passed the allow-list, whatever the server says.
 */
async function webSocketEndpoint(endpoint: URL, timeoutMs: number): Promise<string> {
  if (endpoint.protocol === 'ws:' || endpoint.protocol === 'wss:') return endpoint.href;
  const discovery = new URL(endpoint.href);
  discovery.pathname = `${discovery.pathname.replace(/\/?$/, '/')}json/version`;
  discovery.search = '';
  discovery.hash = '';
  let text: string;
  try {
    const response = await fetch(discovery, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    if (response.status !== 200) throw new CdpError('unreachable', 'The cdp_endpoint did not answer as a DevTools server');
    text = await readLimited(response, MAX_DISCOVERY_BYTES);
  } catch (err) {
    if (err instanceof CdpError) throw err;
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw new CdpError(timedOut ? 'timeout' : 'unreachable', 'Could not reach the browser at cdp_endpoint');
  }
  let path: string;
  try {
    const answer = new URL(String((JSON.parse(text) as { webSocketDebuggerUrl?: unknown }).webSocketDebuggerUrl));
    path = answer.pathname;
  } catch {
    throw new CdpError('unreachable', 'The cdp_endpoint did not answer as a DevTools server');
  }
  if (!/^\/devtools\/browser\/[\w-]+$/.test(path))
    throw new CdpError('unreachable', 'The cdp_endpoint did not answer as a DevTools server');
  const ws = new URL(endpoint.href);
  ws.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';
  ws.pathname = path;
  ws.search = '';
  ws.hash = '';
  return ws.href;
}

async function readLimited(response: Response, limit: number): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new CdpError('unreachable', 'The cdp_endpoint did not answer as a DevTools server');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
