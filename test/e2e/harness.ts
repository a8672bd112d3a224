// Everything an end-to-end fill suite needs: Debian's Chromium, the local site, the real Sesame
// server on a fixture whose items point at the site, a vault, and the test's own Playwright view
// of the browser (the "agent's eyes"). One of each per test file.
import { randomBytes } from 'node:crypto';
import { Secret } from 'otpauth';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type LaunchedChromium, launchChromium } from '../../src/demo/chromium.js';
import { HOSTS, type SiteAccount, startSite, type TestSite } from '../../src/demo/site.js';
import { createFixtureProvider } from '../../src/providers/onepassword/fixture-backend.js';
import type { SecretsProvider } from '../../src/providers/provider.js';
import { OP_VAULT } from '../helpers/fixture.js';
import { type Dialect, startTestServer, type TestServer } from '../helpers/server.js';
import { createVault } from '../helpers/vaults.js';

export { HOSTS };

/**
 * Provider calls by operation, counted where they reach the backend: the server puts its request
 * budget (brief caches, coalescing, back-off) around the provider a test passes in, so cache hits and
 * joined calls are not counted. These are the reads 1Password would see.
 */
export interface ProviderCounts {
  checkVaultAccess: number;
  listItems: number;
  getItem: number;
}

export function countingProvider(inner: SecretsProvider, counts: ProviderCounts): SecretsProvider {
  return {
    parseToken: (token) => inner.parseToken(token),
    checkVaultAccess: (...args) => {
      counts.checkVaultAccess++;
      return inner.checkVaultAccess(...args);
    },
    listItems: (...args) => {
      counts.listItems++;
      return inner.listItems(...args);
    },
    getItem: (...args) => {
      counts.getItem++;
      return inner.getItem(...args);
    },
    forgetToken: (token) => inner.forgetToken(token),
    close: () => inner.close(),
  };
}

/** A login item of the fixture file. */
export interface FixtureLogin extends SiteAccount {
  id: string;
  updatedAt: string;
  websites: { url: string; autofill?: 'AnywhereOnWebsite' | 'ExactDomain' | 'Never' }[];
  extraFields?: { id: string; type: 'text' | 'concealed' | 'totp'; label: string; value: string }[];
}

export interface FillEnvironment {
  t: TestServer;
  chrome: LaunchedChromium;
  site: TestSite;
  /** The test's own connection to the browser. */
  browser: Browser;
  page: Page;
  key: string;
  keyId: string;
  orgId: string;
  vaultId: string;
  accounts: Record<string, FixtureLogin>;
  counts: ProviderCounts;
  /** Every secret value in the fixture (passwords, seeds, URIs), for canary checks. */
  secrets(): string[];
  close(): Promise<void>;
}

/** A random secret value with a readable prefix, for canary checks. */
export const randomSecret = (label: string) => `${label}-${randomBytes(12).toString('base64url')}`;

/** An otpauth:// URI with a fresh seed. */
export function totpUri(label: string, params: { digits?: number; period?: number; algorithm?: string } = {}): string {
  const { digits = 6, period = 30, algorithm = 'SHA1' } = params;
  return `otpauth://totp/Site:${label}?secret=${new Secret({ size: 20 }).base32}&issuer=Site&algorithm=${algorithm}&digits=${digits}&period=${period}`;
}

/** The logins the suites use, keyed by a short name; their websites need the site's port. */
function logins(port: number): Record<string, FixtureLogin> {
  return {
    parent: {
      id: 'parentitem00000000000000a',
      username: 'parent-user',
      password: randomSecret('pw-parent'),
      totp: totpUri('parent'),
      updatedAt: '2026-01-01T00:00:00Z',
      websites: [{ url: `http://${HOSTS.parent}` }],
    },
    login: {
      id: 'loginitem000000000000000a',
      username: 'login-user',
      password: randomSecret('pw-login'),
      // Not the defaults: the fill must follow the URI's digits, period and algorithm.
      totp: totpUri('login', { digits: 8, period: 60, algorithm: 'SHA256' }),
      updatedAt: '2026-01-02T00:00:00Z',
      websites: [{ url: `http://${HOSTS.login}` }],
      extraFields: [{ id: 'pin', type: 'concealed', label: 'PIN', value: randomSecret('pin') }],
    },
    exact: {
      id: 'exactitem000000000000000a',
      username: 'exact-user',
      password: randomSecret('pw-exact'),
      updatedAt: '2026-01-03T00:00:00Z',
      websites: [{ url: `http://${HOSTS.exact}:${port}`, autofill: 'ExactDomain' }],
    },
    tieNewer: {
      id: 'tieitem00000000000000000b',
      username: 'tie-newer',
      password: randomSecret('pw-tie-newer'),
      updatedAt: '2026-02-01T00:00:00Z',
      websites: [{ url: 'http://shared.app.localhost' }],
    },
    tieOlder: {
      id: 'tieitem00000000000000000a',
      username: 'tie-older',
      password: randomSecret('pw-tie-older'),
      updatedAt: '2026-01-15T00:00:00Z',
      websites: [{ url: 'http://shared.app.localhost' }],
    },
    never: {
      id: 'neveritem000000000000000a',
      username: 'never-user',
      password: randomSecret('pw-never'),
      updatedAt: '2026-03-01T00:00:00Z',
      websites: [{ url: `http://${HOSTS.login}`, autofill: 'Never' }],
    },
  };
}

/**
 * More logins, for the fill-safety and login-shape suites (pass them as `extraLogins`; the default
 * set stays as the other suites expect it). Their websites have no port, so they match pages on
 * any port (those suites run a page server of their own).
 */
export function moreLogins(): Record<string, FixtureLogin> {
  return {
    // Six digits, 30 s, SHA-1: the code a row of six one-digit boxes expects.
    otp: {
      id: 'otpitem00000000000000000a',
      username: 'otp-user',
      password: randomSecret('pw-otp'),
      totp: totpUri('otp'),
      updatedAt: '2026-01-04T00:00:00Z',
      websites: [{ url: 'http://otp.app.localhost' }],
    },
    // A password of exactly 8 characters, for an input with maxlength=8.
    short: {
      id: 'shortitem000000000000000a',
      username: 'short-user',
      password: `S${randomBytes(6).toString('base64url').slice(0, 7)}`,
      updatedAt: '2026-01-05T00:00:00Z',
      websites: [{ url: 'http://short.app.localhost' }],
    },
    // One host, two paths: the item for /team wins on /team/..., the other one elsewhere.
    pathRoot: {
      id: 'pathitem0000000000000000a',
      username: 'paths-root-user',
      password: randomSecret('pw-paths-root'),
      updatedAt: '2026-01-06T00:00:00Z',
      websites: [{ url: 'http://paths.app.localhost' }],
    },
    pathTeam: {
      id: 'pathitem0000000000000000b',
      username: 'paths-team-user',
      password: randomSecret('pw-paths-team'),
      updatedAt: '2026-01-06T00:00:00Z',
      websites: [{ url: 'http://paths.app.localhost/team' }],
    },
  };
}

function fixtureItem(login: FixtureLogin) {
  return {
    id: login.id,
    title: `Site (${login.username})`,
    category: 'Login',
    updated_at: login.updatedAt,
    websites: login.websites.map((w) => ({ url: w.url, autofill: w.autofill ?? 'AnywhereOnWebsite' })),
    fields: [
      { id: 'username', type: 'text', label: 'username', value: login.username },
      { id: 'password', type: 'concealed', label: 'password', value: login.password },
      ...(login.totp ? [{ id: 'otp', type: 'totp', label: 'one-time password', value: login.totp }] : []),
      ...(login.extraFields ?? []),
    ],
  };
}

export interface EnvironmentOptions {
  dialect?: Dialect;
  env?: Record<string, string>;
  /** Use this environment's browser and site (and leave them running at close): one Chromium per test file. */
  reuse?: FillEnvironment;
  /** Items beyond the default set (e.g. moreLogins()); ignored with `reuse`, which brings its own. */
  extraLogins?: Record<string, FixtureLogin>;
}

export async function startFillEnvironment({
  dialect = 'sqlite',
  env = {},
  reuse,
  extraLogins = {},
}: EnvironmentOptions = {}): Promise<FillEnvironment> {
  const counts: ProviderCounts = { checkVaultAccess: 0, listItems: 0, getItem: 0 };
  const chrome =
    reuse?.chrome ??
    (await launchChromium({
      // A non-loopback http host that still reaches the local site: the insecure page.
      args: ['--host-resolver-rules=MAP insecure.test 127.0.0.1'],
    }));
  const site = reuse?.site ?? (await startSite());
  const accounts = reuse?.accounts ?? { ...logins(site.port), ...extraLogins };
  if (!reuse) site.addAccounts(Object.values(accounts));
  const t = await startTestServer({
    dialect,
    env: { LOG_LEVEL: 'debug', ...env },
    provider: (path) => countingProvider(createFixtureProvider({ path }), counts),
  });
  t.fixture.data.vaults[OP_VAULT] = { title: 'Site logins', items: Object.values(accounts).map(fixtureItem) };
  t.fixture.write();
  const { key, keyId, orgId } = await t.newOrg();
  const { vault } = await createVault(t, key);
  const browser = reuse?.browser ?? (await chromium.connectOverCDP(chrome.cdpEndpoint));
  const context = browser.contexts()[0];
  if (!context) throw new Error('the browser has no default context');
  const page = reuse?.page ?? context.pages()[0] ?? (await context.newPage());
  for (const k of Object.keys(counts) as (keyof ProviderCounts)[]) counts[k] = 0;
  return {
    t,
    chrome,
    site,
    browser,
    page,
    key,
    keyId,
    orgId,
    vaultId: vault.id,
    accounts,
    counts,
    secrets: () =>
      Object.values(accounts).flatMap((a) => [
        a.password,
        ...(a.totp ? [a.totp, new URL(a.totp).searchParams.get('secret') ?? ''] : []),
        ...(a.extraFields ?? []).map((f) => f.value),
      ]),
    async close() {
      await t.close();
      if (reuse) return;
      await browser.close().catch(() => undefined);
      await site.close();
      await chrome.close();
    },
  };
}
