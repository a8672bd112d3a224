// Real-world login shapes keep working (docs/fill.md, "How a fill is decided"): a plain form, controlled inputs of the
// real React 18, Vue 3 and Angular (served from node_modules), a two-step page, a modal <dialog>,
// same-site iframes, masked inputs, single and split one-time-code fields, and a TOTP code asked
// for at the very end of its window. Each test asserts what the site accepted (its sign-in
// endpoint checked the credentials), not just what the input shows.
import { Secret, TOTP } from 'otpauth';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentAnswer, type ScriptedAgent, scriptedAgent } from '../../src/demo/agent.js';
import type { MatchableField } from '../../src/matching/index.js';
import { fillSecretAt, type SecretSource } from '../../src/modules/fill/index.js';
import type { TotpClock } from '../../src/modules/fill/totp.js';
import type { Item } from '../../src/providers/provider.js';
import { type FillEnvironment, HOSTS, moreLogins, startFillEnvironment } from './harness.js';
import { angularImportMap, doc, type PageServer, startPageServer } from './hostile-pages.js';

const LOGIN = HOSTS.login; // the `login` item: login-user, an 8-digit TOTP (60 s, SHA-256)
const PARENT = HOSTS.parent;
const OTP = 'otp.app.localhost'; // the `otp` item: otp-user, a 6-digit TOTP (30 s, SHA-1)

describe('real-world login shapes', () => {
  let env: FillEnvironment;
  let server: PageServer;
  let page: Page;
  let agent: ScriptedAgent;

  beforeAll(async () => {
    env = await startFillEnvironment({ extraLogins: moreLogins() });
    server = await startPageServer(Object.values(env.accounts));
    page = env.page;
    agent = scriptedAgent({ sesameUrl: env.t.url, credential: env.key, vaultId: env.vaultId, cdpEndpoint: env.chrome.cdpEndpoint, page });
  });
  afterAll(async () => {
    await env?.close();
    await server?.close();
  });

  const url = (host: string, path: string) => server.url(host, path);
  const $ = (selector: string) => page.locator(selector);
  const fill = (target: Locator, field: string) => agent.fillAt(target, field);
  const filled = (field: string): AgentAnswer => ({ status: 200, body: { filled: true, field } });

  async function show(host: string, path: string, body: string, head = '') {
    server.serve(path, doc(body, { head }));
    await page.goto(url(host, path));
  }

  /** A submit handler that posts `fields()` as JSON to /signin/<tag> and shows the answer in #result. */
  const postJson = (tag: string, fields: string) => `<p id="result"></p><script>
    document.getElementById('form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const response = await fetch('/signin/${tag}', { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify(${fields}) });
      document.getElementById('result').textContent = await response.text();
    });
  </script>`;

  async function signsIn(tag: string, username: string, result: Locator = $('#result')) {
    await expect.poll(() => result.textContent().catch(() => null)).toBe(`Signed in as ${username}`);
    expect(server.lastSignIn(tag)).toMatchObject({ username, ok: true });
  }

  const loginFields = `
    <input id="username" name="username" autocomplete="username" placeholder="Username">
    <input id="password" name="password" type="password" autocomplete="current-password" placeholder="Password">
    <button id="submit" type="submit">Sign in</button>`;

  it('a plain form posted by the browser', async () => {
    await show(LOGIN, '/plain', `<h1>Sign in</h1><form method="post" action="/signin/plain">${loginFields}</form>`);
    expect(await fill($('#username'), 'username')).toEqual(filled('username'));
    expect(await fill($('#password'), 'password')).toEqual(filled('password'));
    await agent.click($('#submit'));
    await signsIn('plain', 'login-user');
  });

  describe('framework-controlled inputs see the value through input events', () => {
    it('React 18 (controlled inputs, the value replacing what the state held)', async () => {
      await show(
        LOGIN,
        '/react',
        `<div id="root"></div>
        <script src="/vendor/react.js"></script><script src="/vendor/react-dom.js"></script>
        <script>
          const h = React.createElement;
          function App() {
            const [username, setUsername] = React.useState('someone-else');
            const [password, setPassword] = React.useState('');
            const [result, setResult] = React.useState('');
            const submit = async (event) => {
              event.preventDefault();
              const response = await fetch('/signin/react', { method: 'POST', headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ username, password }) });
              setResult(await response.text());
            };
            return h('form', { id: 'form', onSubmit: submit },
              h('input', { id: 'username', autoComplete: 'username', value: username, onChange: (e) => setUsername(e.target.value) }),
              h('input', { id: 'password', type: 'password', autoComplete: 'current-password', value: password,
                onChange: (e) => setPassword(e.target.value) }),
              h('button', { id: 'submit', type: 'submit' }, 'Sign in'),
              h('p', { id: 'result' }, result));
          }
          ReactDOM.createRoot(document.getElementById('root')).render(h(App));
        </script>`,
      );
      await $('#password').waitFor({ timeout: 5_000 });
      expect(await fill($('#username'), 'username')).toEqual(filled('username'));
      expect(await fill($('#password'), 'password')).toEqual(filled('password'));
      await agent.click($('#submit'));
      await signsIn('react', 'login-user');
    });

    it('Vue 3 (v-model, v-model.lazy and v-model.trim)', async () => {
      await show(
        LOGIN,
        '/vue',
        `<div id="app">
          <form id="form" @submit.prevent="submit">
            <input id="username" autocomplete="username" v-model.lazy.trim="username">
            <input id="password" type="password" autocomplete="current-password" v-model="password">
            <button id="submit" type="submit">Sign in</button>
            <p id="result">{{ result }}</p>
          </form>
        </div>
        <script src="/vendor/vue.js"></script>
        <script>
          Vue.createApp({
            data: () => ({ username: '', password: '', result: '' }),
            methods: {
              async submit() {
                const response = await fetch('/signin/vue', { method: 'POST', headers: { 'content-type': 'application/json' },
                  body: JSON.stringify({ username: this.username, password: this.password }) });
                this.result = await response.text();
              },
            },
          }).mount('#app');
        </script>`,
      );
      await $('#password').waitFor({ timeout: 5_000 });
      expect(await fill($('#username'), 'username')).toEqual(filled('username'));
      expect(await fill($('#password'), 'password')).toEqual(filled('password'));
      await agent.click($('#submit'));
      await signsIn('vue', 'login-user');
    });

    it('Angular (ngModel in a standalone component, JIT-compiled, zoneless)', async () => {
      // The real @angular/* ES bundles from node_modules, loaded through an import map; the
      // component is declared without decorator syntax: Component({...})(class {...}).
      await show(
        LOGIN,
        '/angular',
        `<app-root></app-root>
        <script type="module">
          import '@angular/compiler';
          import { Component, provideZonelessChangeDetection, signal } from '@angular/core';
          import { FormsModule } from '@angular/forms';
          import { bootstrapApplication } from '@angular/platform-browser';
          const App = Component({
            selector: 'app-root',
            imports: [FormsModule],
            template: \`<form id="form" (ngSubmit)="submit()">
              <input id="username" name="username" autocomplete="username" [(ngModel)]="username">
              <input id="password" name="password" type="password" autocomplete="current-password" [(ngModel)]="password">
              <button id="submit" type="submit">Sign in</button>
              <p id="result">{{ result() }}</p></form>\`,
          })(class {
            username = '';
            password = '';
            result = signal('');
            async submit() {
              const response = await fetch('/signin/angular', { method: 'POST', headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ username: this.username, password: this.password }) });
              this.result.set(await response.text());
            }
          });
          bootstrapApplication(App, { providers: [provideZonelessChangeDetection()] }).then(() => { window.angularReady = true; });
        </script>`,
        angularImportMap(),
      );
      await page.waitForFunction('window.angularReady === true', null, { timeout: 15_000 });
      expect(await fill($('#username'), 'username')).toEqual(filled('username'));
      expect(await fill($('#password'), 'password')).toEqual(filled('password'));
      await agent.click($('#submit'));
      await signsIn('angular', 'login-user');
    });
  });

  it('two steps on one page: the password box fades in after "Next"', async () => {
    await show(
      LOGIN,
      '/two-step',
      `<h1>Sign in</h1><form id="form">
        <div id="step1"><input id="username" autocomplete="username"><button id="next" type="button">Next</button></div>
        <div id="step2" hidden style="transition: opacity 150ms">
          <input id="password" type="password" autocomplete="current-password"><button id="submit" type="submit">Sign in</button>
        </div></form>
      <script>
        const step2 = document.getElementById('step2');
        document.getElementById('next').addEventListener('click', () => {
          document.getElementById('step1').hidden = true;
          step2.style.opacity = '0';
          step2.hidden = false;
          requestAnimationFrame(() => requestAnimationFrame(() => { step2.style.opacity = '1'; }));
          step2.addEventListener('transitionend', () => { window.step2Shown = true; });
        });
      </script>
      ${postJson('two-step', "{ username: document.getElementById('username').value, password: document.getElementById('password').value }")}`,
    );
    expect(await fill($('#username'), 'username')).toEqual(filled('username'));
    await agent.click($('#next'));
    await page.waitForFunction('window.step2Shown === true');
    expect(await fill($('#password'), 'password')).toEqual(filled('password'));
    await agent.click($('#submit'));
    await signsIn('two-step', 'login-user');
  });

  it('a login form in a modal <dialog> (showModal)', async () => {
    await show(
      LOGIN,
      '/dialog',
      `<h1>Welcome</h1><button id="open" type="button">Sign in</button>
      <dialog id="dialog"><form method="post" action="/signin/dialog">${loginFields}</form></dialog>
      <script>document.getElementById('open').addEventListener('click', () => document.getElementById('dialog').showModal());</script>`,
    );
    await agent.click($('#open'));
    await $('#dialog #password').waitFor();
    expect(await fill($('#username'), 'username')).toEqual(filled('username'));
    expect(await fill($('#password'), 'password')).toEqual(filled('password'));
    await agent.click($('#submit'));
    await signsIn('dialog', 'login-user');
  });

  it('same-site iframes, two levels deep, matched by the frame that holds the input', async () => {
    server.serve('/embedded-login', doc(`<h1>Sign in</h1><form method="post" action="/signin/framed">${loginFields}</form>`));
    server.serve('/embed-wrapper', doc(`<p>Account</p><iframe id="inner" src="${url(LOGIN, '/embedded-login')}"></iframe>`));
    await show(
      PARENT,
      '/embedded',
      `<h1>Home</h1><iframe id="outer" src="${url(PARENT, '/embed-wrapper')}" style="width:440px; height:420px"></iframe>`,
    );
    const inner = page.frameLocator('#outer').frameLocator('#inner');
    await inner.locator('#password').waitFor();
    expect(await fill(inner.locator('#username'), 'username')).toEqual(filled('username'));
    expect(await fill(inner.locator('#password'), 'password')).toEqual(filled('password'));
    await agent.click(inner.locator('#submit'));
    await signsIn('framed', 'login-user', inner.locator('#result'));
    expect(server.lastSignIn('framed')?.host).toBe(LOGIN);
  });

  describe('one-time codes', () => {
    const otpUser = 'otp-user';

    it('a single code field (8 digits, as the item’s URI says)', async () => {
      await show(
        LOGIN,
        '/code',
        `<h1>Two-step verification</h1><form method="post" action="/signin/code">
          <input type="hidden" name="username" value="login-user">
          <input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength="8">
          <button id="submit" type="submit">Verify</button></form>`,
      );
      expect(await fill($('#code'), 'totp')).toEqual(filled('totp'));
      expect(await $('#code').inputValue()).toMatch(/^\d{8}$/);
      await agent.click($('#submit'));
      await signsIn('code', 'login-user');
    });

    it('masked code fields that reformat what is typed ("123 456", "1234-5678")', async () => {
      const masked = (tag: string, user: string, maxlength: number, format: string) => `<h1>Verification</h1>
        <form method="post" action="/signin/${tag}"><input type="hidden" name="username" value="${user}">
          <input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength="${maxlength}">
          <button id="submit" type="submit">Verify</button></form>
        <script>
          const code = document.getElementById('code');
          code.addEventListener('input', () => {
            const digits = code.value.replace(/\\D/g, '');
            code.value = ${format};
          });
        </script>`;
      await show(
        OTP,
        '/masked-space',
        masked('masked-space', otpUser, 7, "digits.length > 3 ? digits.slice(0, 3) + ' ' + digits.slice(3) : digits"),
      );
      expect(await fill($('#code'), 'totp')).toEqual(filled('totp'));
      expect(await $('#code').inputValue()).toMatch(/^\d{3} \d{3}$/);
      await agent.click($('#submit'));
      await signsIn('masked-space', otpUser);

      await show(
        LOGIN,
        '/masked-dash',
        masked('masked-dash', 'login-user', 9, "digits.length > 4 ? digits.slice(0, 4) + '-' + digits.slice(4) : digits"),
      );
      expect(await fill($('#code'), 'totp')).toEqual(filled('totp'));
      expect(await $('#code').inputValue()).toMatch(/^\d{4}-\d{4}$/);
      await agent.click($('#submit'));
      await signsIn('masked-dash', 'login-user');
    });

    /** A row of code boxes in #form, posted as one code; `script` adds the widget's behaviour (boxes: the inputs). */
    const boxes = (tag: string, count: number, maxlength: number, script: string) => `<h1>Enter the code</h1>
      <form id="form"><div style="display:flex; gap:8px">
        ${Array.from({ length: count }, (_, i) => `<input class="box" id="box${i}" maxlength="${maxlength}" inputmode="numeric" autocomplete="${i === 0 ? 'one-time-code' : 'off'}" style="width:${maxlength * 24 + 16}px">`).join('')}
      </div><button id="submit" type="submit">Verify</button></form>
      <script>const boxes = [...document.querySelectorAll('.box')];\n${script}</script>
      ${postJson(tag, `{ username: '${otpUser}', code: boxes.map((b) => b.value).join('') }`)}`;

    const cases: [string, number, number, string][] = [
      [
        'six one-digit boxes that move focus on input',
        6,
        1,
        `boxes.forEach((box, i) => {
          box.addEventListener('input', () => { box.value = box.value.replace(/\\D/g, '').slice(-1); if (box.value) boxes[i + 1]?.focus(); });
          box.addEventListener('keydown', (e) => { if (e.key === 'Backspace' && !box.value) boxes[i - 1]?.focus(); });
        });`,
      ],
      ['six one-digit boxes that do not move focus', 6, 1, ''],
      [
        'six boxes whose widget types the digit itself on keydown and cancels the key',
        6,
        1,
        `boxes.forEach((box, i) => box.addEventListener('keydown', (e) => {
          if (!/^\\d$/.test(e.key)) return;
          e.preventDefault();
          box.value = e.key;
          boxes[i + 1]?.focus();
        }));`,
      ],
      [
        'two boxes of three digits, focus moving when the first is full',
        2,
        3,
        `boxes[0].addEventListener('input', () => { if (boxes[0].value.length === 3) boxes[1].focus(); });`,
      ],
    ];
    for (const [name, count, maxlength, script] of cases) {
      it(name, async () => {
        const tag = `boxes-${name.replace(/\W+/g, '-')}`.slice(0, 40);
        await show(OTP, `/${tag}`, boxes(tag, count, maxlength, script));
        expect(await fill($('#box0'), 'totp')).toEqual(filled('totp'));
        const code = (await page.$$eval('.box', (all) => all.map((b) => (b as unknown as { value: string }).value))).join('');
        expect(code).toMatch(/^\d{6}$/);
        await agent.click($('#submit'));
        await signsIn(tag, otpUser);
      });
    }

    it('React one-digit boxes (state per box, focus moved through refs)', async () => {
      await show(
        OTP,
        '/react-otp',
        `<div id="root"></div>
        <script src="/vendor/react.js"></script><script src="/vendor/react-dom.js"></script>
        <script>
          const h = React.createElement;
          function Otp() {
            const [digits, setDigits] = React.useState(['', '', '', '', '', '']);
            const [result, setResult] = React.useState('');
            const refs = React.useRef([]);
            const change = (i) => (e) => {
              const digit = e.target.value.replace(/\\D/g, '').slice(-1);
              setDigits((old) => old.map((d, j) => (j === i ? digit : d)));
              if (digit) refs.current[i + 1]?.focus();
            };
            const submit = async (event) => {
              event.preventDefault();
              const response = await fetch('/signin/react-otp', { method: 'POST', headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ username: 'otp-user', code: digits.join('') }) });
              setResult(await response.text());
            };
            return h('form', { id: 'form', onSubmit: submit },
              h('div', { style: { display: 'flex', gap: 8 } }, digits.map((d, i) => h('input', {
                key: i, id: 'box' + i, className: 'box', maxLength: 1, inputMode: 'numeric', value: d,
                style: { width: 40 }, ref: (el) => { refs.current[i] = el; }, onChange: change(i) }))),
              h('button', { id: 'submit', type: 'submit' }, 'Verify'),
              h('p', { id: 'result' }, result));
          }
          ReactDOM.createRoot(document.getElementById('root')).render(h(Otp));
        </script>`,
      );
      await $('#box5').waitFor({ timeout: 5_000 });
      expect(await fill($('#box0'), 'totp')).toEqual(filled('totp'));
      await agent.click($('#submit'));
      await signsIn('react-otp', otpUser);
    });

    it('TOTP at the window edge: a second before the window ends, the fill waits and types the next code', async () => {
      // Through the library API, with a clock placed 1 s before the end of a 30 s window.
      let seed = new Secret({ size: 20 });
      const period = 30_000;
      const windowEnd = (Math.floor(Date.now() / period) + 1) * period;
      const totpOf = (secret: Secret) => new TOTP({ secret, digits: 6, period: 30, algorithm: 'SHA1' });
      // A seed whose code changes across this boundary, so that "the next window's code" is observable.
      while (totpOf(seed).generate({ timestamp: windowEnd - 1_000 }) === totpOf(seed).generate({ timestamp: windowEnd })) {
        seed = new Secret({ size: 20 });
      }
      const totp = totpOf(seed);
      const item: Item = {
        id: 'edgeitem0000000000000000a',
        title: 'Edge',
        category: 'Login',
        updatedAt: '2026-01-01T00:00:00Z',
        websites: [{ url: 'http://edge.app.localhost', autofill: 'AnywhereOnWebsite' }],
        fields: [
          { id: 'username', label: 'username', kind: 'text', value: 'edge-user' },
          { id: 'otp', label: 'one-time password', kind: 'totp', value: totp.toString() },
        ],
      };
      server.addAccounts([{ username: 'edge-user', password: 'unused-edge-password', totp: totp.toString() }]);
      const source: SecretSource = {
        id: 'edge',
        listItems: async () => [item],
        describeItem: async () => item.fields.map(({ id, label, kind }): MatchableField => ({ id, label, kind })),
        readValue: async (_item, fieldId) => item.fields.find((f) => f.id === fieldId)?.value ?? '',
      };
      let now = windowEnd - 1_000;
      const slept: number[] = [];
      const clock: TotpClock = {
        now: () => now,
        sleep: async (ms) => {
          slept.push(ms);
          now += ms;
        },
      };
      await show(
        'edge.app.localhost',
        '/edge',
        `<form method="post" action="/signin/edge"><input type="hidden" name="username" value="edge-user">
          <input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength="6">
          <button id="submit" type="submit">Verify</button></form>`,
      );
      const box = await $('#code').boundingBox();
      if (!box) throw new Error('the code field is not visible');
      const answer = await fillSecretAt(page, { x: box.x + box.width / 2, y: box.y + box.height / 2, field: 'totp' }, source, { clock });
      expect(answer).toEqual({ filled: true, field: 'totp' });
      // It waited out the last second of the window (and a little more), then typed the next window's code.
      expect(slept.reduce((sum, ms) => sum + ms, 0)).toBeGreaterThanOrEqual(1_000);
      expect(await $('#code').inputValue()).toBe(totp.generate({ timestamp: windowEnd }));
      await $('#submit').click();
      await signsIn('edge', 'edge-user');
    });
  });
});
