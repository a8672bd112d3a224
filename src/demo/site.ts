// A small local website for `sesame demo` and the end-to-end suites: login pages of the kinds an
// agent meets, served on 127.0.0.1 under several *.localhost names (Chromium resolves every
// *.localhost name to loopback). It records each sign-in it accepts, so a test can tell that the
// site, not just the input, got the right credentials.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseTotp } from '../modules/fill/totp.js';

export interface SiteAccount {
  username: string;
  password: string;
  /** otpauth:// URI or base32 seed; accounts with one must pass /totp's second step. */
  totp?: string;
}

export interface SignIn {
  host: string;
  page: string;
  username: string;
}

export interface TestSite {
  port: number;
  /** `http://<host>:<port><path>` */
  url(host: string, path?: string): string;
  /** Every accepted sign-in, oldest first. */
  signIns: SignIn[];
  /** Every rejected attempt (wrong password or code), oldest first. */
  failures: SignIn[];
  /** Accepts these accounts too (their items' websites may need the site's port first). */
  addAccounts(accounts: SiteAccount[]): void;
  close(): Promise<void>;
}

/** The hosts the suites use: a site (app.localhost), its subdomains, and another site (evil.localhost). */
export const HOSTS = {
  parent: 'app.localhost',
  login: 'login.app.localhost',
  sibling: 'other.app.localhost',
  deeper: 'deep.login.app.localhost',
  exact: 'exact.app.localhost',
  evil: 'evil.localhost',
} as const;

const STYLE = `<style>
  body { font: 16px sans-serif; margin: 0; padding: 24px; }
  input, button { display: block; font: inherit; width: 260px; height: 32px; margin: 10px 0; }
  iframe { border: 2px solid #888; width: 360px; height: 330px; }
</style>`;

const page = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${STYLE}</head><body>${body}</body></html>`;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginForm(action: string, { passwordType = 'password' } = {}): string {
  return `<h1>Sign in</h1>
<form method="post" action="${action}">
  <input id="username" name="username" autocomplete="username" placeholder="Username">
  <input id="password" name="password" type="${passwordType}" autocomplete="current-password" placeholder="Password">
  <button id="submit" type="submit">Sign in</button>
</form>`;
}

// Like a React controlled form: the inputs' values live in JS state that changes only on input
// events, and every render writes the state back, so a value set without events is wiped.
const REACT_FORM = `<h1>Sign in (controlled)</h1>
<form id="form">
  <input id="username" autocomplete="username" placeholder="Username">
  <input id="password" type="password" autocomplete="current-password" placeholder="Password">
  <button id="submit" type="submit">Sign in</button>
</form>
<p id="result"></p>
<script>
  const state = { username: '', password: '' };
  const render = () => {
    for (const id of Object.keys(state)) {
      const input = document.getElementById(id);
      if (input.value !== state[id]) input.value = state[id];
    }
  };
  for (const id of Object.keys(state)) {
    document.getElementById(id).addEventListener('input', (event) => { state[id] = event.target.value; render(); });
  }
  setInterval(render, 20);
  document.getElementById('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const response = await fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(state) });
    document.getElementById('result').textContent = await response.text();
  });
</script>`;

export async function startSite(accounts: SiteAccount[] = []): Promise<TestSite> {
  const byName = new Map(accounts.map((a) => [a.username, a]));
  const signIns: SignIn[] = [];
  const failures: SignIn[] = [];
  let port = 0;
  const url = (host: string, path = '/') => `http://${host}:${port}${path}`;

  const server = createServer(async (req, res) => {
    try {
      await route(req, res);
    } catch {
      res.writeHead(500).end('site error');
    }
  });

  function html(res: ServerResponse, body: string, status = 200): void {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body);
  }

  function result(res: ServerResponse, host: string, pageName: string, username: string, ok: boolean, json = false): void {
    (ok ? signIns : failures).push({ host, page: pageName, username });
    const text = ok ? `Signed in as ${username}` : 'Wrong username, password or code';
    if (json) {
      res.writeHead(ok ? 200 : 401, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
      return;
    }
    html(res, page('Result', `<h1 id="result">${escapeHtml(text)}</h1>`), ok ? 200 : 401);
  }

  function codeValid(account: SiteAccount, code: string): boolean {
    if (!account.totp) return false;
    return parseTotp(account.totp).validate({ token: code, window: 1 }) !== null;
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const form = req.method === 'POST' ? await readForm(req) : new URLSearchParams();
    const username = form.get('username') ?? '';
    const account = byName.get(username);
    const passwordOk = account !== undefined && form.get('password') === account.password;

    switch (`${req.method} ${path}`) {
      case 'GET /':
      case 'GET /login':
        return html(res, page('Sign in', loginForm('/login')));
      case 'POST /login':
        return result(res, host, 'login', username, passwordOk);
      case 'GET /react':
        return html(res, page('Sign in', REACT_FORM));
      case 'POST /api/login': {
        const body = JSON.parse(form.get('json') ?? '{}') as { username?: string; password?: string };
        const known = byName.get(body.username ?? '');
        return result(res, host, 'react', body.username ?? '', known !== undefined && body.password === known.password, true);
      }
      case 'GET /two-step':
        return html(
          res,
          page(
            'Sign in',
            `<h1>Sign in</h1><form method="post" action="/two-step"><input id="username" name="username" autocomplete="username">
             <button id="submit" type="submit">Next</button></form>`,
          ),
        );
      case 'POST /two-step':
        // The second page: the username travels on, the password is asked for alone.
        return html(
          res,
          page(
            'Password',
            `<h1>Password for ${escapeHtml(username)}</h1><form method="post" action="/two-step/password">
             <input type="hidden" name="username" value="${escapeHtml(username)}">
             <input id="password" name="password" type="password" autocomplete="current-password">
             <button id="submit" type="submit">Sign in</button></form>`,
          ),
        );
      case 'POST /two-step/password':
        return result(res, host, 'two-step', username, passwordOk);
      case 'GET /totp':
        return html(res, page('Sign in', loginForm('/totp')));
      case 'POST /totp':
        if (!passwordOk) return result(res, host, 'totp', username, false);
        return html(
          res,
          page(
            'One-time code',
            `<h1>Enter the code from your authenticator</h1><form method="post" action="/totp/verify">
             <input type="hidden" name="username" value="${escapeHtml(username)}">
             <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="10">
             <button id="submit" type="submit">Verify</button></form>`,
          ),
        );
      case 'POST /totp/verify':
        return result(res, host, 'totp', username, account !== undefined && codeValid(account, form.get('code') ?? ''));
      case 'GET /text-password':
        return html(res, page('Sign in', loginForm('/login', { passwordType: 'text' })));
      case 'GET /frame/same':
        return html(res, page('Embedded', `<h1>Embedded sign-in</h1><iframe id="frame" src="${url(HOSTS.login, '/login')}"></iframe>`));
      case 'GET /frame/cross':
        return html(res, page('Embedded', `<h1>Embedded sign-in</h1><iframe id="frame" src="${url(HOSTS.evil, '/login')}"></iframe>`));
      case 'GET /frame/hostile':
        // Another site embedding the real login page: the frame belongs to app.localhost, the page does not.
        return html(res, page('Win a prize', `<h1>Win a prize</h1><iframe id="frame" src="${url(HOSTS.login, '/login')}"></iframe>`));
      case 'GET /disabled':
        return html(
          res,
          page(
            'Sign in',
            `<input id="disabled" disabled><input id="readonly" readonly><input id="checkbox" type="checkbox">
             <textarea id="notes"></textarea><p id="text">Just text</p>`,
          ),
        );
      default:
        return html(res, page('Not found', 'Not found'), 404);
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    port,
    url,
    signIns,
    failures,
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

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if ((req.headers['content-type'] ?? '').includes('application/json')) return new URLSearchParams({ json: text });
  return new URLSearchParams(text);
}
