// The fill logic as a library: a runner that already holds a Playwright Page calls listSecrets and
// fillSecretAt itself, with a SecretSource of its own, and no Sesame server in between.
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedChromium, launchChromium } from '../../src/demo/chromium.js';
import { HOSTS, startSite, type TestSite } from '../../src/demo/site.js';
import type { MatchableField } from '../../src/matching/index.js';
import { BrowserError, type FillReport, fillSecretAt, listSecrets, type SecretSource } from '../../src/modules/fill/index.js';
import { type Item, ProviderError } from '../../src/providers/provider.js';

const PASSWORD = `library-${Math.random().toString(36).slice(2)}`;

const ITEM: Item = {
  id: 'libraryitem0000000000000a',
  title: 'Library',
  category: 'Login',
  updatedAt: '2026-01-01T00:00:00Z',
  websites: [{ url: `http://${HOSTS.login}`, autofill: 'AnywhereOnWebsite' }],
  fields: [
    { id: 'username', label: 'username', kind: 'text', value: 'library-user' },
    { id: 'password', label: 'password', kind: 'concealed', value: PASSWORD },
  ],
};

/** An in-memory source, counting what it is asked. */
function memorySource(fail?: ProviderError) {
  const calls = { listItems: 0, describeItem: 0, readValue: 0 };
  const source: SecretSource = {
    id: 'memory',
    async listItems() {
      calls.listItems++;
      return [ITEM];
    },
    async describeItem(item) {
      calls.describeItem++;
      return ITEM.fields.filter(() => item.id === ITEM.id).map(({ id, label, kind }): MatchableField => ({ id, label, kind }));
    },
    async readValue(_item, fieldId) {
      calls.readValue++;
      if (fail) throw fail;
      return ITEM.fields.find((f) => f.id === fieldId)?.value ?? '';
    },
  };
  return { source, calls };
}

describe('fill as a library on a Playwright Page', () => {
  let chrome: LaunchedChromium;
  let site: TestSite;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    chrome = await launchChromium();
    site = await startSite([{ username: 'library-user', password: PASSWORD }]);
    browser = await chromium.connectOverCDP(chrome.cdpEndpoint);
    page = browser.contexts()[0]?.pages()[0] as Page;
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await chrome?.close();
  });

  async function centre(selector: string) {
    const box = await page.locator(selector).boundingBox();
    if (!box) throw new Error('not visible');
    return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  }

  it('lists and fills, and the site accepts the login', async () => {
    await page.goto(site.url(HOSTS.login, '/login'));
    const { source, calls } = memorySource();
    expect(await listSecrets(page, source)).toEqual({
      origin: `http://${HOSTS.login}:${site.port}`,
      fields: [
        { field: 'username', kind: 'text', ambiguous: false },
        { field: 'password', kind: 'concealed', ambiguous: false },
      ],
    });
    const report: FillReport = { origin: null, itemId: null };
    expect(await fillSecretAt(page, { ...(await centre('#username')), field: 'username' }, source, { report })).toEqual({
      filled: true,
      field: 'username',
    });
    expect(report).toEqual({ origin: `http://${HOSTS.login}:${site.port}`, itemId: ITEM.id });
    expect(await fillSecretAt(page, { ...(await centre('#password')), field: 'password' }, source)).toEqual({
      filled: true,
      field: 'password',
    });
    // A value is read only for the item chosen, once per fill.
    expect(calls.readValue).toBe(2);
    await page.locator('#submit').click();
    await expect.poll(() => page.locator('#result').textContent()).toBe('Signed in as library-user');
  });

  it('refuses with no_vault without a source', async () => {
    await page.goto(site.url(HOSTS.login, '/login'));
    expect(await listSecrets(page, null)).toMatchObject({ fields: [], reason: 'no_vault' });
    expect(await fillSecretAt(page, { ...(await centre('#username')), field: 'username' }, null)).toMatchObject({
      filled: false,
      reason: 'no_vault',
    });
  });

  it("applies the caller's guard: page check, reservation, and release when the value cannot be read", async () => {
    await page.goto(site.url(HOSTS.login, '/login'));
    const point = await centre('#password');
    const denied = await fillSecretAt(page, { ...point, field: 'password' }, memorySource().source, {
      guard: { checkPage: (url) => ({ reason: 'domain_not_allowed', detail: `not ${url.host}` }) },
    });
    expect(denied).toMatchObject({ filled: false, reason: 'domain_not_allowed', detail: `not ${HOSTS.login}` });

    const exhausted = memorySource();
    const refused = await fillSecretAt(page, { ...point, field: 'password' }, exhausted.source, {
      guard: { reserve: async () => ({ reason: 'grant_expired', detail: 'no fills left' }) },
    });
    expect(refused).toMatchObject({ filled: false, reason: 'grant_expired' });
    expect(exhausted.calls.readValue).toBe(0);

    let released = 0;
    const down = memorySource(new ProviderError('rate_limited', 'rate limited', 60));
    const unavailable = await fillSecretAt(page, { ...point, field: 'password' }, down.source, {
      guard: { reserve: async () => undefined, release: async () => void released++ },
    });
    expect(unavailable).toMatchObject({ filled: false, reason: 'provider_unavailable' });
    expect(released).toBe(1);
    expect(await page.locator('#password').inputValue()).toBe('');
  });

  it('types nothing once the caller gave up (aborted signal)', async () => {
    await page.goto(site.url(HOSTS.login, '/login'));
    const controller = new AbortController();
    controller.abort();
    const { source, calls } = memorySource();
    await expect(
      fillSecretAt(page, { ...(await centre('#password')), field: 'password' }, source, { signal: controller.signal }),
    ).rejects.toThrow(BrowserError);
    expect(calls.readValue).toBe(0);
    expect(await page.locator('#password').inputValue()).toBe('');
  });

  it('fails with a BrowserError of its own words when the page is gone', async () => {
    const doomed = await page.context().newPage();
    await doomed.goto(site.url(HOSTS.login, '/login'));
    const point = { x: 100, y: 100 };
    await doomed.close();
    const error = await fillSecretAt(doomed, { ...point, field: 'password' }, memorySource().source).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(BrowserError);
    expect((error as Error).message).not.toContain(PASSWORD);
  });
});
