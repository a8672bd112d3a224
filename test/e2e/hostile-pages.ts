// A host-aware page server for the fill-safety and login-shape suites. Chromium resolves every
// *.localhost name to 127.0.0.1, so this one server is many sites at once: app.localhost and its
// subdomains are the site whose items the vault holds; evil.localhost and ads.localhost are other
// sites (an attacker's, an ad network's). A test registers the markup it needs at a path and
// opens it on whichever host it likes. The server records every request it receives, so a test
// can prove that an attacker's host (its "collector") never received a secret, and it checks
// sign-ins against the fixture's accounts, so a test can assert what the site accepted.
// It also serves the real React 18, Vue 3 and Angular builds from node_modules.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join, normalize, sep } from 'node:path';
import type { SiteAccount } from '../../src/demo/site.js';
import { parseTotp } from '../../src/modules/fill/totp.js';

const require = createRequire(import.meta.url);

/** Hosts of other sites than app.localhost: whatever reaches them has left the site. */
export const ATTACKER_HOSTS = ['evil.localhost', 'ads.localhost'] as const;

export const isAttackerHost = (host: string) => ATTACKER_HOSTS.some((a) => host === a || host.endsWith(`.${a}`));

/** One request the server received (vendor files excepted). */
export interface Recorded {
  host: string;
  method: string;
  /** Path and query. */
  url: string;
  body: string;
}

/** One sign-in attempt at /signin/<tag>, checked against the accounts. */
export interface PageSignIn {
  host: string;
  tag: string;
  username: string;
  ok: boolean;
}

export interface PageServer {
  port: number;
  /** `http://<host>:<port><path>` */
  url(host: string, path?: string): string;
  /** Serves a page at `path` (query ignored) on every host; a later call replaces it. */
  serve(path: string, html: string, headers?: Record<string, string>): void;
  /** Every request received, oldest first (vendor files excepted). */
  requests: Recorded[];
  /** The requests that reached an attacker's host. */
  collected(): Recorded[];
  /** Requests to /collect or /beacon on any host (what page scripts sent out). */
  beacons(): Recorded[];
  signIns: PageSignIn[];
  /** The last sign-in attempt with this tag. */
  lastSignIn(tag: string): PageSignIn | undefined;
  addAccounts(accounts: SiteAccount[]): void;
  close(): Promise<void>;
}

const STYLE = `<style>
  body { font: 16px sans-serif; margin: 0; padding: 24px; }
  input, button { display: block; font: inherit; width: 260px; height: 32px; margin: 10px 0; box-sizing: border-box; }
  iframe { border: 2px solid #888; width: 380px; height: 300px; }
</style>`;

/** A whole HTML document around `body`. */
export function doc(body: string, { head = '', title = 'Page' }: { head?: string; title?: string } = {}): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${STYLE}${head}</head><body>${body}</body></html>`;
}

/** Characters a masked input may add to a code or a number (they are dropped before checking a code). */
const FORMATTING = /[\s\-()./+]/g;

/** Browser builds, as [package, file in the package]: React 18's UMD builds and Vue 3's global build. */
const VENDOR: Record<string, [string, string]> = {
  '/vendor/react.js': ['react', 'umd/react.production.min.js'],
  '/vendor/react-dom.js': ['react-dom', 'umd/react-dom.production.min.js'],
  '/vendor/vue.js': ['vue', 'dist/vue.global.prod.js'],
};

const ANGULAR_PACKAGES = ['core', 'common', 'compiler', 'forms', 'platform-browser'] as const;

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/**
 * The import map that lets a page `import` Angular's own ESM bundles (fesm2022) from node_modules,
 * built from each package's `exports`; rxjs comes from its UMD bundle through a small ES module.
 */
export function angularImportMap(): string {
  const imports: Record<string, string> = { rxjs: '/ng/rxjs.mjs', 'rxjs/operators': '/ng/rxjs-operators.mjs' };
  for (const name of ANGULAR_PACKAGES) {
    const exports = JSON.parse(readFileSync(join(packageDir(`@angular/${name}`), 'package.json'), 'utf8')).exports as Record<
      string,
      string | { default?: string }
    >;
    for (const [subpath, target] of Object.entries(exports)) {
      const file = typeof target === 'string' ? target : target.default;
      if (!file?.endsWith('.mjs') || subpath.includes('*')) continue;
      imports[`@angular/${name}${subpath.slice(1)}`] = `/ng/@angular/${name}/${file.replace(/^\.\//, '')}`;
    }
  }
  return `<script type="importmap">${JSON.stringify({ imports })}</script>`;
}

let rxjsModules: { main: string; operators: string } | undefined;

/** rxjs's UMD bundle, run with `this` = globalThis (it sets globalThis.rxjs), then re-exported by name. */
function rxjsShims(): { main: string; operators: string } {
  if (rxjsModules) return rxjsModules;
  const umd = readFileSync(join(packageDir('rxjs'), 'dist/bundles/rxjs.umd.min.js'), 'utf8').replace(/\/\/# sourceMappingURL=.*$/m, '');
  const names = (module: object) => Object.keys(module).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n));
  const main = names(require('rxjs') as object);
  const operators = names(require('rxjs/operators') as object);
  rxjsModules = {
    main: `(function () {\n${umd}\n}).call(globalThis);\nconst R = globalThis.rxjs;\nexport const { ${main.join(', ')} } = R;\n`,
    operators: `import 'rxjs';\nconst O = globalThis.rxjs.operators;\nexport const { ${operators.join(', ')} } = O;\n`,
  };
  return rxjsModules;
}

export async function startPageServer(accounts: SiteAccount[] = []): Promise<PageServer> {
  const byName = new Map(accounts.map((a) => [a.username, a]));
  const pages = new Map<string, { html: string; headers: Record<string, string> }>();
  const requests: Recorded[] = [];
  const signIns: PageSignIn[] = [];
  let port = 0;

  const server = createServer((req, res) => {
    route(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end('page server error');
    });
  });

  function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
    res.end(body);
  }

  function codeValid(account: SiteAccount, code: string): boolean {
    if (!account.totp) return false;
    return parseTotp(account.totp).validate({ token: code.replace(FORMATTING, ''), window: 1 }) !== null;
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;

    const vendor = VENDOR[path];
    if (vendor) return send(res, 200, 'text/javascript', readFileSync(join(packageDir(vendor[0]), vendor[1])));
    if (path === '/ng/rxjs.mjs') return send(res, 200, 'text/javascript', rxjsShims().main);
    if (path === '/ng/rxjs-operators.mjs') return send(res, 200, 'text/javascript', rxjsShims().operators);
    const angular = /^\/ng\/@angular\/([a-z-]+)\/(.+)$/.exec(path);
    if (angular?.[1] && angular[2] && (ANGULAR_PACKAGES as readonly string[]).includes(angular[1])) {
      const base = packageDir(`@angular/${angular[1]}`);
      const file = normalize(join(base, angular[2]));
      if (!file.startsWith(base + sep)) return send(res, 404, 'text/plain', 'not found');
      return send(res, 200, 'text/javascript', readFileSync(file));
    }

    const body = await readBody(req);
    requests.push({ host, method: req.method ?? 'GET', url: `${path}${url.search}`, body });

    const registered = req.method === 'GET' ? pages.get(path) : undefined;
    if (registered) return send(res, 200, 'text/html; charset=utf-8', registered.html, registered.headers);
    if (path === '/collect' || path === '/beacon') {
      return req.method === 'POST' && !isJson(req)
        ? send(res, 200, 'text/html; charset=utf-8', doc('<h1 id="result">Thank you</h1>'))
        : send(res, 204, 'text/plain', '', { 'access-control-allow-origin': '*' });
    }
    const signIn = /^\/signin\/([\w-]+)$/.exec(path);
    if (signIn?.[1] && req.method === 'POST') {
      const fields = isJson(req) ? jsonFields(body) : new URLSearchParams(body);
      const username = fields.get('username') ?? '';
      const password = fields.get('password');
      const code = fields.get('code');
      const account = byName.get(username);
      const ok =
        account !== undefined &&
        (password !== null || code !== null) &&
        (password === null || password === account.password) &&
        (code === null || codeValid(account, code));
      signIns.push({ host, tag: signIn[1], username, ok });
      const text = ok ? `Signed in as ${username}` : 'Wrong username, password or code';
      if (isJson(req)) return send(res, ok ? 200 : 401, 'text/plain; charset=utf-8', text);
      return send(res, ok ? 200 : 401, 'text/html; charset=utf-8', doc(`<h1 id="result">${escapeHtml(text)}</h1>`));
    }
    return send(res, 404, 'text/html; charset=utf-8', doc('Not found'));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (host, path = '/') => `http://${host}:${port}${path}`,
    serve(path, html, headers = {}) {
      pages.set(path, { html, headers });
    },
    requests,
    collected: () => requests.filter((r) => isAttackerHost(r.host)),
    beacons: () => requests.filter((r) => /^\/(collect|beacon)(\?|$)/.test(r.url)),
    signIns,
    lastSignIn: (tag) => signIns.filter((s) => s.tag === tag).at(-1),
    addAccounts(more) {
      for (const account of more) byName.set(account.username, account);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const isJson = (req: IncomingMessage) => (req.headers['content-type'] ?? '').includes('application/json');

function jsonFields(text: string): URLSearchParams {
  const fields = new URLSearchParams();
  try {
    for (const [key, value] of Object.entries(JSON.parse(text) as Record<string, unknown>)) {
      if (typeof value === 'string') fields.set(key, value);
    }
  } catch {
    // not JSON: no fields
  }
  return fields;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
