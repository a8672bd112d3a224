// The SDK-facing code (sdk-operations.ts, which runs inside the worker) on the real SDK, in this
// process, with no network: `globalThis.fetch` is replaced, as the SDK's WebAssembly core sends every
// request through it (research note §6, "Tests"). Only the login's first request (auth/start) can be
// simulated this way; what happens after login is covered with the fake SDK (sdk-backend.test.ts).

import { createClient } from '@1password/sdk';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { classifySdkError } from '../../src/providers/onepassword/errors.js';
import { mintFakeToken } from '../../src/providers/onepassword/fake-token.js';
import { createSdkOperations } from '../../src/providers/onepassword/sdk-operations.js';
import { checkTokenFormat } from '../../src/providers/onepassword/token-format.js';
import { expectKind } from './provider-contract.js';
import { INVALID_TOKENS, VALID_TOKENS } from './token-cases.js';

const TOKEN = mintFakeToken({ seed: 'sdk-operations' });
const VAULT = 'v5pz6venw4roosmkzdq2nhpv6u';

function operations(loginDeadlineMs = 2000, onRequest?: (operation: string, outcome: string) => void) {
  return createSdkOperations({
    loadSdk: () => import('@1password/sdk'),
    loginDeadlineMs,
    callDeadlineMs: 2000,
    integrationVersion: '9.9.9-test',
    clientIdleMs: 60_000,
    maxClients: 10,
    onRequest,
  });
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

describe('SDK operations on the real SDK, offline', () => {
  it('maps 401 at login to token_rejected, shares one login between concurrent calls, and forgets a failed one', async () => {
    const requests = answerWith(401);
    const outcomes: string[] = [];
    const ops = operations(2000, (operation, outcome) => outcomes.push(`${operation}:${outcome}`));
    const [a, b] = await Promise.all([
      expectKind(ops.checkVaultAccess(TOKEN, VAULT), 'token_rejected'),
      expectKind(ops.listItems(TOKEN, VAULT), 'token_rejected'),
    ]);
    expect(a.retryable).toBe(false);
    expect(b.message).not.toContain(TOKEN.slice(4, 24));
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request?.url).toMatch(/^https:\/\/[a-z2-7]+\.1password\.invalid\/api\/v3\/auth\/start$/);
    expect(request?.headers.get('user-agent')).toMatch(/ Sesame\/9\.9\.9-test$/);
    expect(outcomes).toEqual(['login:token_rejected']);

    await expectKind(ops.checkVaultAccess(TOKEN, VAULT), 'token_rejected');
    expect(requests).toHaveLength(2);
  });

  it.each([
    [429, 'rate_limited'],
    [503, 'unavailable'],
    [500, 'unavailable'],
    [403, 'token_rejected'],
  ] as const)('maps %i at login to %s', async (status, kind) => {
    answerWith(status);
    await expectKind(operations().checkVaultAccess(mintFakeToken({ seed: `status-${status}` }), VAULT), kind);
  });

  it('maps a network failure to unavailable', async () => {
    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('fetch failed')));
    await expectKind(operations().getItem(TOKEN, VAULT, 'item'), 'unavailable');
  });

  it('times out at the login deadline when fetch never answers, then lets the next call try again', async () => {
    const requests: Request[] = [];
    vi.stubGlobal('fetch', (request: Request) => {
      requests.push(request);
      return new Promise(() => {});
    });
    const ops = operations(150);
    const token = mintFakeToken({ seed: 'hang' });
    const started = performance.now();
    await expectKind(ops.checkVaultAccess(token, VAULT), 'timeout');
    expect(performance.now() - started).toBeLessThan(150 + 150);
    // The hung login cannot be cancelled, but it does not hold the token hostage.
    await expectKind(ops.checkVaultAccess(token, VAULT), 'timeout');
    expect(requests).toHaveLength(2);
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
    // An all-zero throttle seed would crash this process (research §2.3): it is fed to a worker in sdk-worker.test.ts instead.
    for (const c of [...VALID_TOKENS, ...INVALID_TOKENS].filter((c) => c.sdk !== 'crashes')) {
      const sdkAccepts = await sdkParses(c.token);
      const expected = c.reason === undefined || c.sdk === 'accepts';
      if (sdkAccepts !== expected) disagreements.push(c.name);
      expect(checkTokenFormat(c.token).ok).toBe(c.reason === undefined);
    }
    expect(disagreements).toEqual([]);
  });
});
