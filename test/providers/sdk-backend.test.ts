// The SDK backend's logic with the SDK replaced at its module boundary by a fake that behaves like
// it (sdk/fake-sdk.mjs), running in the real worker pool: classification, client reuse, deadlines,
// and the metrics that count SDK requests. The request budget around it (brief caches, coalescing,
// back-off) is backend-neutral and tested over the fixture in budget.test.ts; here it appears only
// where the real server puts it around the SDK ("through the API").
// The workers run the build in dist/ (`npm test` builds it first).

import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsRegistry, type MetricsRegistry } from '../../src/metrics.js';
import { BACKOFF_FIRST_MS } from '../../src/providers/budget.js';
import { instrumentProvider, OUTCOMES } from '../../src/providers/instrument.js';
import { mintFakeToken } from '../../src/providers/onepassword/fake-token.js';
import { createSdkProvider } from '../../src/providers/onepassword/sdk-backend.js';
import { createSdkWorkerPool } from '../../src/providers/onepassword/worker-pool.js';
import { SDK_OPERATIONS, type SdkOperation } from '../../src/providers/onepassword/worker-protocol.js';
import type { ProviderErrorKind, SecretsProvider } from '../../src/providers/provider.js';
import { describeProviderContract, expectKind } from './provider-contract.js';
import { FAKE_SDK_MODULE, type Fault, type FaultError, OTHER_VAULT, PASSWORD, scenarioToken, TOTP_SEED, VAULT } from './sdk/scenario.js';
import { startProviderServer } from './sdk/server.js';

const ITEM = 'exampleloginitem0000000000';

interface Started {
  provider: SecretsProvider;
  metrics: MetricsRegistry;
  /** Requests the fake SDK received, per operation and outcome. */
  requests(operation: SdkOperation, outcome?: 'ok' | ProviderErrorKind): number;
}

let running: SecretsProvider | undefined;

function start(options: { loginDeadlineMs?: number; callDeadlineMs?: number; clientIdleMs?: number; maxClients?: number } = {}): Started {
  const { loginDeadlineMs = 2000, callDeadlineMs = 2000, clientIdleMs = 60_000, maxClients = 10 } = options;
  const metrics = createMetricsRegistry();
  const provider = createSdkProvider({
    loginDeadlineMs,
    callDeadlineMs,
    integrationVersion: 'test',
    metrics,
    createExecutor: (events) =>
      createSdkWorkerPool({
        ...events,
        size: 1,
        loginDeadlineMs,
        callDeadlineMs,
        integrationVersion: 'test',
        clientIdleMs,
        maxClients,
        sdkModule: FAKE_SDK_MODULE,
      }),
  });
  running = provider;
  const counter = metrics.counter('sesame_onepassword_requests_total', 'Requests the 1Password SDK made, by operation and outcome', {
    operation: SDK_OPERATIONS,
    outcome: OUTCOMES,
  });
  return {
    provider,
    metrics,
    requests: (operation, outcome = 'ok') => counter.value({ operation, outcome }),
  };
}

const faulty = (seed: string, ...faults: Fault[]) => scenarioToken(seed, { faults });

afterEach(async () => {
  await running?.close();
  running = undefined;
});

describeProviderContract('SDK backend (fake SDK in a worker)', () => {
  const { provider } = start();
  running = undefined; // closed by the contract suite
  return {
    provider,
    token: scenarioToken('contract'),
    vaultId: VAULT,
    otherVaultId: OTHER_VAULT,
    refusedToken: faulty('contract-refused', { op: 'login', error: 'unauthenticated' }),
    deadlineMs: 5000,
  };
});

describe('SDK backend: mapping', () => {
  it('maps items and fields, keeping only login-capable items in lists', async () => {
    const { provider } = start();
    const token = scenarioToken('mapping');
    expect(await provider.listItems(token, VAULT)).toEqual([
      {
        id: ITEM,
        title: 'Example',
        category: 'Login',
        updatedAt: '2026-01-01T00:00:00.000Z',
        websites: [
          { url: 'https://example.com/login', autofill: 'AnywhereOnWebsite' },
          { url: 'https://admin.example.com', autofill: 'ExactDomain' },
        ],
      },
    ]);
    const item = await provider.getItem(token, VAULT, ITEM);
    expect(item.fields).toEqual([
      { id: 'username', label: 'username', kind: 'text', value: 'alice' },
      { id: 'password', label: 'password', kind: 'concealed', value: PASSWORD },
      { id: 'onetimepassword', label: 'one-time password', kind: 'totp', value: TOTP_SEED },
    ]);
  });

  it.each<[FaultError, ProviderErrorKind]>([
    ['unauthenticated', 'token_rejected'],
    ['forbidden', 'token_rejected'],
    ['rate_limit', 'rate_limited'],
    ['server_error', 'unavailable'],
    ['bad_gateway', 'unavailable'],
    ['network', 'unavailable'],
  ])('maps a login failing with %s to %s', async (error, kind) => {
    const { provider, requests } = start();
    await expectKind(provider.checkVaultAccess(faulty(`login-${error}`, { op: 'login', error }), VAULT), kind);
    expect(requests('login', kind)).toBe(1);
  });

  it.each<[FaultError, ProviderErrorKind]>([
    ['rate_limit', 'rate_limited'],
    ['unauthenticated', 'token_rejected'],
    ['session_expired', 'token_rejected'],
    ['forbidden', 'vault_inaccessible'],
    ['server_error', 'unavailable'],
    ['network', 'unavailable'],
  ])('maps a vaults.list failing with %s to %s', async (error, kind) => {
    const { provider, requests } = start();
    await expectKind(provider.checkVaultAccess(faulty(`call-${error}`, { op: 'vaults_list', error }), VAULT), kind);
    expect(requests('vaults_list', kind)).toBe(1);
  });

  it('tells an inaccessible vault from a missing item with one vaults.list (onepassword-sdk-js#146)', async () => {
    const { provider, requests } = start();
    const token = scenarioToken('146');
    await expectKind(provider.getItem(token, OTHER_VAULT, ITEM), 'vault_inaccessible');
    expect(requests('items_get', 'internal')).toBe(1);
    await expectKind(provider.getItem(token, VAULT, 'zzzzzzzzzzzzzzzzzzzzzzzzzz'), 'item_not_found');
    expect(requests('vaults_list')).toBe(2);
  });

  it('never lets a malformed token reach the SDK', async () => {
    const { provider, requests } = start();
    const err = await expectKind(provider.checkVaultAccess(' not a token', VAULT), 'token_malformed');
    expect(err.message).toContain('missing ops_ prefix');
    await expectKind(provider.listItems(mintFakeToken().replace('ops_', 'ops_=='), VAULT), 'token_malformed');
    expect(requests('login')).toBe(0);
  });
});

describe('SDK backend: clients', () => {
  it('logs in once per token and reuses the client', async () => {
    const { provider, requests } = start();
    const token = scenarioToken('reuse');
    await provider.checkVaultAccess(token, VAULT, { fresh: true });
    await provider.listItems(token, VAULT);
    await provider.getItem(token, VAULT, ITEM);
    await provider.checkVaultAccess(token, VAULT, { fresh: true });
    expect(requests('login')).toBe(1);
    // No cache of its own: every call is a request (budget.ts decides what to reuse).
    expect(requests('vaults_list')).toBe(2);
  });

  it('joins concurrent first calls of a token into one login', async () => {
    const { provider, requests } = start();
    const token = scenarioToken('one-login', { latencyMs: 100 });
    await Promise.all([provider.checkVaultAccess(token, VAULT), provider.listItems(token, VAULT), provider.getItem(token, VAULT, ITEM)]);
    expect(requests('login')).toBe(1);
  });

  it('drops the client of a token 1Password rejects mid-session', async () => {
    const { provider, requests } = start();
    const token = faulty('revoked', { op: 'vaults_list', error: 'unauthenticated', from: 2, times: 1 });
    await provider.checkVaultAccess(token, VAULT);
    await expectKind(provider.checkVaultAccess(token, VAULT), 'token_rejected');
    await provider.listItems(token, VAULT);
    expect(requests('login')).toBe(2);
  });

  it('forgets a token on request: its client', async () => {
    const { provider, requests } = start();
    const token = scenarioToken('forget');
    await provider.listItems(token, VAULT);
    provider.forgetToken(token);
    await provider.listItems(token, VAULT);
    expect(requests('login')).toBe(2);
  });

  it('drops a client left idle, and the least recently used one when full', async () => {
    const idle = start({ clientIdleMs: 200 });
    const token = scenarioToken('idle');
    await idle.provider.checkVaultAccess(token, VAULT, { fresh: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await idle.provider.checkVaultAccess(token, VAULT, { fresh: true });
    expect(idle.requests('login')).toBe(2);
    await idle.provider.close();

    const { provider, requests } = start({ maxClients: 2 });
    const [a, b, c] = ['lru-a', 'lru-b', 'lru-c'].map((seed) => scenarioToken(seed));
    for (const token of [a, b, c, a, c]) await provider.checkVaultAccess(token as string, VAULT, { fresh: true });
    // a was dropped for c and logs in again; c stayed.
    expect(requests('login')).toBe(4);
  });
});

describe('SDK backend: deadlines', () => {
  it('answers timeout at the login deadline, the call deadline and the caller deadline', async () => {
    const { provider, requests } = start({ loginDeadlineMs: 200, callDeadlineMs: 300 });
    let started = performance.now();
    await expectKind(provider.checkVaultAccess(faulty('hang-login', { op: 'login', error: 'hang' }), VAULT), 'timeout');
    expect(performance.now() - started).toBeLessThan(200 + 500);
    expect(requests('login', 'timeout')).toBe(1);

    started = performance.now();
    await expectKind(provider.listItems(faulty('hang-call', { op: 'items_list', error: 'hang' }), VAULT), 'timeout');
    expect(performance.now() - started).toBeLessThan(200 + 300 + 500);
    expect(requests('items_list', 'timeout')).toBe(1);

    started = performance.now();
    await expectKind(provider.getItem(scenarioToken('slow', { latencyMs: 5000 }), VAULT, ITEM, { deadlineMs: 100 }), 'timeout');
    expect(performance.now() - started).toBeLessThan(100 + 300);
  });

  it('answers 503 over HTTP when 1Password never answers, within the deadline', async () => {
    const { provider } = start({ loginDeadlineMs: 300 });
    const server = await startProviderServer(provider);
    running = undefined; // closed with the server
    try {
      const started = performance.now();
      const res = await server.request('POST', '/api/v2/vaults', {
        name: 'hangs',
        provider_config: { op_vault_id: VAULT },
        token: faulty('http-hang', { op: 'login', error: 'hang' }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(JSON.parse(res.text).detail).toBe('1Password is unavailable: timed out. Nothing was changed; retry later.');
      expect(performance.now() - started).toBeLessThan(300 + 1000);
    } finally {
      await server.close();
    }
  });

  it('answers a rate-limited create with 503 and the back-off as Retry-After', async () => {
    const { provider } = start();
    const server = await startProviderServer(provider);
    running = undefined;
    try {
      const res = await server.request('POST', '/api/v2/vaults', {
        name: 'limited',
        provider_config: { op_vault_id: VAULT },
        token: faulty('http-limit', { op: 'login', error: 'rate_limit' }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe(String(BACKOFF_FIRST_MS / 1000));
    } finally {
      await server.close();
    }
  });
});

describe('SDK backend: through the API', () => {
  it('asks 1Password afresh on create, PATCH, rotate and health, and forgets replaced and deleted tokens', async () => {
    const { provider, requests } = start();
    const server = await startProviderServer(provider);
    running = undefined; // closed with the server
    try {
      const token = scenarioToken('api-a', { vaults: { [VAULT]: {}, [OTHER_VAULT]: {} } });
      const created = await server.request('POST', '/api/v2/vaults', { name: 'api', provider_config: { op_vault_id: VAULT }, token });
      expect(created.status).toBe(201);
      const id = JSON.parse(created.text).id as string;
      expect(requests('vaults_list')).toBe(1);

      for (let i = 0; i < 2; i++) expect(JSON.parse((await server.request('GET', `/api/v2/vaults/${id}/health`)).text).ok).toBe(true);
      expect(requests('vaults_list')).toBe(3);
      const patched = await server.request('PATCH', `/api/v2/vaults/${id}`, { provider_config: { op_vault_id: OTHER_VAULT } });
      expect(patched.status).toBe(200);
      expect(requests('vaults_list')).toBe(4);

      const next = scenarioToken('api-b', { vaults: { [OTHER_VAULT]: {} } });
      expect((await server.request('PUT', `/api/v2/vaults/${id}/token`, { token: next })).status).toBe(204);
      expect(requests('vaults_list')).toBe(5);
      expect(requests('login')).toBe(2);
      // The replaced token's client is gone: using it again means a new login.
      await provider.checkVaultAccess(token, OTHER_VAULT);
      expect(requests('login')).toBe(3);

      expect((await server.request('DELETE', `/api/v2/vaults/${id}`)).status).toBe(204);
      await provider.checkVaultAccess(next, OTHER_VAULT);
      expect(requests('login')).toBe(4);
    } finally {
      await server.close();
    }
  });
});

describe('SDK backend: metrics', () => {
  it('counts calls per outcome and never labels anything with a token', async () => {
    const { provider, metrics } = start();
    const counted = instrumentProvider(provider, 'onepassword', metrics);
    const token = scenarioToken('metrics');
    await counted.checkVaultAccess(token, VAULT);
    await counted.checkVaultAccess(token, VAULT);
    await expectKind(counted.checkVaultAccess(token, OTHER_VAULT), 'vault_inaccessible');
    await expectKind(counted.getItem('ops_nope', VAULT, ITEM), 'token_malformed');

    const text = await metrics.render();
    expect(text).toContain('sesame_provider_calls_total{backend="onepassword",operation="check_vault_access",outcome="ok"} 2');
    expect(text).toContain(
      'sesame_provider_calls_total{backend="onepassword",operation="check_vault_access",outcome="vault_inaccessible"} 1',
    );
    expect(text).toContain('sesame_provider_calls_total{backend="onepassword",operation="get_item",outcome="token_malformed"} 1');
    expect(text).toContain('sesame_onepassword_requests_total{operation="login",outcome="ok"} 1');
    // Three access checks, three requests: the SDK backend caches nothing (the budget layer does).
    expect(text).toContain('sesame_onepassword_requests_total{operation="vaults_list",outcome="ok"} 3');
    for (let i = 4; i + 12 <= token.length; i += 6) expect(text.includes(token.slice(i, i + 12))).toBe(false);
    expect(text).not.toContain(VAULT);
  });
});
