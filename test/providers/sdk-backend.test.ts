// The real SDK backend with no network: `globalThis.fetch` is replaced, as the SDK's
// WebAssembly core sends every request through it (research note §6, "Tests").
// Only the login's first request (auth/start) can be simulated this way.

import { createClient, RateLimitExceededError } from '@1password/sdk';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createProvider } from '../../src/providers/index.js';
import { classifySdkError } from '../../src/providers/onepassword/errors.js';
import { mintFakeToken } from '../../src/providers/onepassword/fake-token.js';
import { createSdkProvider } from '../../src/providers/onepassword/sdk-backend.js';
import { checkTokenFormat } from '../../src/providers/onepassword/token-format.js';
import { expectKind } from './provider-contract.js';
import { INVALID_TOKENS, VALID_TOKENS } from './token-cases.js';

const TOKEN = mintFakeToken({ seed: 'sdk-backend' });
const VAULT = 'v5pz6venw4roosmkzdq2nhpv6u';
const LOGIN_DEADLINE_MS = 2000;

function provider(loginDeadlineMs = LOGIN_DEADLINE_MS) {
  return createSdkProvider({ loginDeadlineMs, callDeadlineMs: 2000, integrationVersion: '9.9.9-test' });
}

/** Stubs fetch to answer every request with `status`; records the requests. */
function answerWith(status: number): Request[] {
  const requests: Request[] = [];
  vi.stubGlobal('fetch', async (request: Request) => {
    requests.push(request);
    const response = new Response('{}', { status, headers: { 'content-type': 'application/json' } });
    // The SDK's glue parses response.url; a hand-made Response has none.
    Object.defineProperty(response, 'url', { value: request.url });
    return response;
  });
  return requests;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

beforeAll(async () => {
  // Load (compile) the SDK once, so the timing assertions below measure only the calls.
  await import('@1password/sdk');
});

describe('SDK backend, offline', () => {
  it('never lets a malformed token reach the SDK', async () => {
    const fetch = vi.fn();
    vi.stubGlobal('fetch', fetch);
    const p = provider();
    const err = await expectKind(p.checkVaultAccess(' not a token', VAULT), 'token_malformed');
    expect(err.message).toContain('missing ops_ prefix');
    await expectKind(p.listItems(TOKEN.replace('ops_', 'ops_=='), VAULT), 'token_malformed');
    expect(fetch).not.toHaveBeenCalled();
  });

  it('maps 401 at login to token_rejected, shares one login between concurrent calls, and forgets a failed one', async () => {
    const requests = answerWith(401);
    const p = createProvider({ loginDeadlineMs: LOGIN_DEADLINE_MS, callDeadlineMs: 2000, version: '9.9.9-test' });
    const [a, b] = await Promise.all([
      expectKind(p.checkVaultAccess(TOKEN, VAULT), 'token_rejected'),
      expectKind(p.listItems(TOKEN, VAULT), 'token_rejected'),
    ]);
    expect(a.retryable).toBe(false);
    expect(b.message).not.toContain(TOKEN.slice(4, 24));
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request?.url).toMatch(/^https:\/\/[a-z2-7]+\.1password\.invalid\/api\/v3\/auth\/start$/);
    expect(request?.headers.get('user-agent')).toMatch(/ Sesame\/9\.9\.9-test$/);

    await expectKind(p.checkVaultAccess(TOKEN, VAULT), 'token_rejected');
    expect(requests).toHaveLength(2);
  });

  it.each([
    [429, 'rate_limited'],
    [503, 'unavailable'],
    [500, 'unavailable'],
  ] as const)('maps %i at login to %s', async (status, kind) => {
    answerWith(status);
    const err = await expectKind(provider().checkVaultAccess(mintFakeToken({ seed: `status-${status}` }), VAULT), kind);
    expect(err.retryable).toBe(true);
  });

  it('maps a network failure to unavailable', async () => {
    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('fetch failed')));
    await expectKind(provider().getItem(TOKEN, VAULT, 'item'), 'unavailable');
  });

  it('times out at the login deadline when fetch never answers, and at the caller deadline', async () => {
    vi.stubGlobal('fetch', () => new Promise(() => {}));
    const p = provider(150);
    let started = performance.now();
    await expectKind(p.checkVaultAccess(mintFakeToken({ seed: 'hang-1' }), VAULT), 'timeout');
    expect(performance.now() - started).toBeLessThan(150 + 150);

    started = performance.now();
    await expectKind(provider(10_000).listItems(mintFakeToken({ seed: 'hang-2' }), VAULT, { deadlineMs: 100 }), 'timeout');
    expect(performance.now() - started).toBeLessThan(100 + 150);
  });

  it('classifies the SDK’s own RateLimitExceededError', () => {
    expect(classifySdkError(new RateLimitExceededError('rate limit exceeded'), 'call').kind).toBe('rate_limited');
    expect(classifySdkError(new RateLimitExceededError('no telling text'), 'call').kind).toBe('rate_limited');
  });
});

// The local check must agree with the SDK's own parser, or real tokens could be refused
// (too strict) or odd ones reach the SDK (too loose). Re-run when the SDK is upgraded.
describe("local token check agrees with the SDK's parser", () => {
  async function sdkParses(token: string): Promise<boolean> {
    try {
      await createClient({ auth: token, integrationName: 'Sesame', integrationVersion: 'test' });
      throw new Error('unexpected login');
    } catch (err) {
      // Parsing passed when the SDK got as far as the (refused) network request.
      return classifySdkError(err, 'login').kind !== 'token_malformed';
    }
  }

  it('on every case of the table', async () => {
    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('fetch failed')));
    const disagreements: string[] = [];
    // An all-zero throttle seed would crash this process (research §2.3): never give it to the SDK.
    for (const c of [...VALID_TOKENS, ...INVALID_TOKENS].filter((c) => c.sdk !== 'crashes')) {
      const sdkAccepts = await sdkParses(c.token);
      const expected = c.reason === undefined || c.sdk === 'accepts';
      if (sdkAccepts !== expected) disagreements.push(c.name);
      expect(checkTokenFormat(c.token).ok).toBe(c.reason === undefined);
    }
    expect(disagreements).toEqual([]);
  });
});
