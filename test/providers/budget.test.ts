// The request budget (budget.ts) over the fixture backend, which stands in for 1Password and keeps no
// state of its own: the local token check, the brief caches and their `fresh` bypass, coalescing,
// the back-off after a rate limit, and forgetting a token. Provider reads are counted where they
// reach the backend (instrumentProvider inside the layer, as the server assembles it), so every
// count below is what 1Password would have been asked.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMetricsRegistry, type MetricsRegistry } from '../../src/metrics.js';
import { BACKOFF_FIRST_MS, withBudget } from '../../src/providers/budget.js';
import { instrumentProvider, OUTCOMES } from '../../src/providers/instrument.js';
import { mintFakeToken } from '../../src/providers/onepassword/fake-token.js';
import { createFixtureProvider } from '../../src/providers/onepassword/fixture-backend.js';
import type { ProviderErrorKind, SecretsProvider } from '../../src/providers/provider.js';
import { OP_VAULT, OTHER_OP_VAULT, TestFixture } from '../helpers/fixture.js';
import { describeProviderContract, expectKind } from './provider-contract.js';

const ITEM = 'exampleloginitem0000000000';
const MISSING_ITEM = 'zzzzzzzzzzzzzzzzzzzzzzzzzz';
const CACHE_TTL_MS = 30_000;
const PROBE_MS = 5_000;

type Operation = 'check_vault_access' | 'list_items' | 'get_item';

interface Started {
  provider: SecretsProvider;
  /** The backend inside the layer (the fixture, instrumented). */
  backend: SecretsProvider;
  fixture: TestFixture;
  token: string;
  metrics: MetricsRegistry;
  /** Calls that reached the backend, per operation and outcome. */
  reads(operation: Operation, outcome?: 'ok' | ProviderErrorKind): number;
  /** Moves the layer's clock (caches, back-off); the fixture keeps real time. */
  advance(ms: number): void;
}

let running: { provider: SecretsProvider; fixture: TestFixture } | undefined;

function withItem(fixture: TestFixture): void {
  fixture.data.vaults[OP_VAULT] = {
    title: 'Shared',
    items: [
      {
        id: ITEM,
        title: 'Example',
        category: 'Login',
        updated_at: '2026-01-01T00:00:00Z',
        websites: [{ url: 'https://example.com/login', autofill: 'AnywhereOnWebsite' }],
        fields: [
          { id: 'username', type: 'text', label: 'username', value: 'alice' },
          { id: 'password', type: 'concealed', label: 'password', value: `pw-${Math.random()}` },
        ],
      },
    ],
  };
  fixture.write();
}

function start(options: { cacheTtlMs?: number; defaultDeadlineMs?: number } = {}): Started {
  const { cacheTtlMs = CACHE_TTL_MS, defaultDeadlineMs = 2_000 } = options;
  const fixture = new TestFixture();
  withItem(fixture);
  const token = fixture.token([OP_VAULT]);
  const metrics = createMetricsRegistry();
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const backend = instrumentProvider(createFixtureProvider({ path: fixture.path, defaultDeadlineMs }), 'fixture', metrics);
  const provider = withBudget(backend, { cacheTtlMs, probeMs: PROBE_MS, metrics, now: () => clock });
  running = { provider, fixture };
  const calls = metrics.counter('sesame_provider_calls_total', 'Secrets provider calls, by backend, operation and outcome', {
    backend: ['onepassword', 'fixture'],
    operation: ['check_vault_access', 'list_items', 'get_item'],
    outcome: OUTCOMES,
  });
  return {
    provider,
    backend,
    fixture,
    token,
    metrics,
    reads: (operation, outcome = 'ok') => calls.value({ backend: 'fixture', operation, outcome }),
    advance: (ms) => {
      clock += ms;
    },
  };
}

afterEach(async () => {
  await running?.provider.close();
  running?.fixture.remove();
  running = undefined;
});

describeProviderContract('fixture backend behind the budget layer', () => {
  const fixture = new TestFixture();
  withItem(fixture);
  return {
    provider: withBudget(createFixtureProvider({ path: fixture.path }), { cacheTtlMs: CACHE_TTL_MS, metrics: createMetricsRegistry() }),
    token: fixture.token([OP_VAULT]),
    vaultId: OP_VAULT,
    otherVaultId: OTHER_OP_VAULT,
    refusedToken: fixture.token([OP_VAULT], 'revoked'),
    deadlineMs: 2_000,
    cleanup: () => fixture.remove(),
  };
});

describe('budget: caches', () => {
  it('never lets a malformed token reach the backend', async () => {
    const { provider, reads } = start();
    const err = await expectKind(provider.checkVaultAccess(' not a token', OP_VAULT), 'token_malformed');
    expect(err.message).toContain('missing ops_ prefix');
    await expectKind(provider.listItems(mintFakeToken().replace('ops_', 'ops_=='), OP_VAULT), 'token_malformed');
    await expectKind(provider.getItem('ops_nope', OP_VAULT, ITEM), 'token_malformed');
    for (const operation of ['check_vault_access', 'list_items', 'get_item'] as const) {
      expect(reads(operation, 'token_malformed')).toBe(0);
    }
  });

  it('reuses vault-access answers briefly, unless asked for a fresh one', async () => {
    const { provider, reads, advance, token, metrics } = start();
    await provider.checkVaultAccess(token, OP_VAULT);
    await provider.checkVaultAccess(token, OP_VAULT);
    expect(reads('check_vault_access')).toBe(1);
    expect(await metrics.render()).toContain('sesame_provider_cache_total{cache="vault_access",result="hit"} 1');
    await provider.checkVaultAccess(token, OP_VAULT, { fresh: true });
    expect(reads('check_vault_access')).toBe(2);
    advance(CACHE_TTL_MS + 1);
    await provider.checkVaultAccess(token, OP_VAULT);
    expect(reads('check_vault_access')).toBe(3);

    // A refusal is remembered as briefly, for every operation on that vault.
    await expectKind(provider.checkVaultAccess(token, OTHER_OP_VAULT), 'vault_inaccessible');
    await expectKind(provider.checkVaultAccess(token, OTHER_OP_VAULT), 'vault_inaccessible');
    await expectKind(provider.listItems(token, OTHER_OP_VAULT), 'vault_inaccessible');
    await expectKind(provider.getItem(token, OTHER_OP_VAULT, ITEM), 'vault_inaccessible');
    expect(reads('check_vault_access', 'vault_inaccessible')).toBe(1);
    expect(reads('list_items', 'vault_inaccessible') + reads('get_item', 'vault_inaccessible')).toBe(0);
    await expectKind(provider.checkVaultAccess(token, OTHER_OP_VAULT, { fresh: true }), 'vault_inaccessible');
    expect(reads('check_vault_access', 'vault_inaccessible')).toBe(2);
  });

  it('reuses item overviews briefly, as copies, and never caches an item', async () => {
    const { provider, reads, advance, token } = start();
    const first = await provider.listItems(token, OP_VAULT);
    first[0]?.websites.push({ url: 'https://evil.example', autofill: 'AnywhereOnWebsite' });
    const second = await provider.listItems(token, OP_VAULT);
    expect(second[0]?.websites).toHaveLength(1);
    expect(reads('list_items')).toBe(1);
    await provider.listItems(token, OP_VAULT, { fresh: true });
    advance(CACHE_TTL_MS + 1);
    await provider.listItems(token, OP_VAULT);
    expect(reads('list_items')).toBe(3);

    await provider.getItem(token, OP_VAULT, ITEM);
    await provider.getItem(token, OP_VAULT, ITEM);
    expect(reads('get_item')).toBe(2);
  });

  it('keys what it learns by the token: another token (a rotation) never sees it', async () => {
    const { provider, reads, token, fixture } = start();
    await provider.listItems(token, OP_VAULT);
    const next = fixture.token([OP_VAULT]);
    await provider.listItems(next, OP_VAULT);
    expect(reads('list_items')).toBe(2);
    // What one token may read says nothing about another.
    const elsewhere = fixture.token([OTHER_OP_VAULT]);
    await expectKind(provider.listItems(elsewhere, OP_VAULT), 'vault_inaccessible');
  });

  it('reuses nothing with a TTL of 0', async () => {
    const { provider, reads, token } = start({ cacheTtlMs: 0 });
    for (let i = 0; i < 3; i++) {
      await provider.checkVaultAccess(token, OP_VAULT);
      await provider.listItems(token, OP_VAULT);
    }
    expect(reads('check_vault_access')).toBe(3);
    expect(reads('list_items')).toBe(3);
  });

  it('drops the cached answers of a token the provider rejects mid-session', async () => {
    const { provider, reads, token, fixture } = start();
    await provider.checkVaultAccess(token, OP_VAULT);
    await provider.listItems(token, OP_VAULT);
    fixture.setState(token, 'revoked');
    await expectKind(provider.checkVaultAccess(token, OP_VAULT, { fresh: true }), 'token_rejected');
    fixture.setState(token, 'active');
    await provider.listItems(token, OP_VAULT);
    expect(reads('list_items')).toBe(2);
  });
});

describe('budget: coalescing', () => {
  it('coalesces identical concurrent calls, and only identical ones', async () => {
    const { provider, reads, token, fixture, metrics } = start();
    fixture.setFaults({ latency_ms: 100 });
    const items = await Promise.all(Array.from({ length: 5 }, () => provider.getItem(token, OP_VAULT, ITEM)));
    expect(new Set(items.map((i) => JSON.stringify(i))).size).toBe(1);
    // Each caller gets its own copy.
    expect(items[0]).not.toBe(items[1]);
    expect(reads('get_item')).toBe(1);

    // Fresh calls too: an answer being fetched now is fresh.
    await Promise.all(Array.from({ length: 5 }, () => provider.checkVaultAccess(token, OP_VAULT, { fresh: true })));
    expect(reads('check_vault_access')).toBe(1);

    await Promise.all([
      expectKind(provider.getItem(token, OP_VAULT, MISSING_ITEM), 'item_not_found'),
      provider.getItem(token, OP_VAULT, ITEM),
    ]);
    expect(reads('get_item')).toBe(2);
    expect(reads('get_item', 'item_not_found')).toBe(1);
    expect(await metrics.render()).toContain('sesame_provider_coalesced_total{operation="get_item"} 4');
  });

  it('bounds each caller by its own deadline, not by the call it joined', async () => {
    const { provider, token, fixture } = start();
    fixture.setFaults({ latency_ms: 300 });
    const [impatient, patient] = await Promise.allSettled([
      provider.listItems(token, OP_VAULT, { deadlineMs: 50 }),
      provider.listItems(token, OP_VAULT, { deadlineMs: 1_500 }),
    ]);
    expect(impatient).toMatchObject({ status: 'rejected', reason: { kind: 'timeout' } });
    expect(patient).toMatchObject({ status: 'fulfilled', value: [{ id: ITEM }] });
  });
});

describe('budget: back-off after a rate limit', () => {
  it('fails fast, probes once the back-off ends, doubles it while still limited', async () => {
    const { provider, reads, advance, metrics, token, fixture } = start();
    await provider.checkVaultAccess(token, OP_VAULT);
    fixture.setFaults({ rate_limit_after: 0 });

    const first = await expectKind(provider.listItems(token, OP_VAULT), 'rate_limited');
    expect(first.retryAfterSeconds).toBe(BACKOFF_FIRST_MS / 1000);
    expect(reads('list_items', 'rate_limited')).toBe(1);

    // No call while backing off, for any operation of this token; cached answers are still served.
    advance(10_000);
    const refused = await expectKind(provider.listItems(token, OP_VAULT), 'rate_limited');
    expect(refused.retryAfterSeconds).toBe(50);
    await expectKind(provider.getItem(token, OP_VAULT, ITEM), 'rate_limited');
    await provider.checkVaultAccess(token, OP_VAULT);
    expect(reads('list_items', 'rate_limited')).toBe(1);
    expect(reads('get_item', 'rate_limited')).toBe(0);
    expect(await metrics.render()).toContain('sesame_provider_backoff_refusals_total 2');

    // Another token is not held back, and this one stays back even though the provider would answer.
    fixture.setFaults({});
    await provider.listItems(fixture.token([OP_VAULT]), OP_VAULT);
    await expectKind(provider.listItems(token, OP_VAULT), 'rate_limited');
    expect(reads('list_items')).toBe(1);

    // The back-off over, one call probes; still limited, the back-off doubles.
    fixture.setFaults({ rate_limit_after: 0 });
    advance(50_000);
    const second = await expectKind(provider.listItems(token, OP_VAULT), 'rate_limited');
    expect(second.retryAfterSeconds).toBe((2 * BACKOFF_FIRST_MS) / 1000);
    expect(reads('list_items', 'rate_limited')).toBe(2);

    fixture.setFaults({});
    advance(2 * BACKOFF_FIRST_MS);
    expect(await provider.listItems(token, OP_VAULT)).toHaveLength(1);
    // Recovered: calls flow again.
    await provider.getItem(token, OP_VAULT, ITEM);
    expect(reads('get_item')).toBe(1);
  });

  it('counts rate limits answered to calls already in flight as one', async () => {
    const { provider, advance, token, fixture } = start();
    fixture.setFaults({ latency_ms: 50, rate_limit_after: 0 });
    const burst = await Promise.all(
      [ITEM, MISSING_ITEM].map((itemId) => expectKind(provider.getItem(token, OP_VAULT, itemId), 'rate_limited')),
    );
    expect(burst.map((e) => e.retryAfterSeconds)).toEqual([60, 60]);
    advance(BACKOFF_FIRST_MS);
    const probe = await expectKind(provider.getItem(token, OP_VAULT, ITEM), 'rate_limited');
    expect(probe.retryAfterSeconds).toBe(120);
  });

  it('lets a single call probe when the back-off ends; a timeout lets the next call probe again', async () => {
    const { provider, reads, advance, token, fixture } = start({ defaultDeadlineMs: 300 });
    fixture.setFaults({ rate_limit_after: 0 });
    await expectKind(provider.checkVaultAccess(token, OP_VAULT), 'rate_limited');
    fixture.setFaults({ latency_ms: 5_000 });
    advance(BACKOFF_FIRST_MS);
    // The probe hangs until the backend's deadline; meanwhile the other calls of the token are refused.
    const probe = provider.listItems(token, OP_VAULT);
    const waiting = await expectKind(provider.checkVaultAccess(token, OP_VAULT), 'rate_limited');
    expect(waiting.retryAfterSeconds).toBe(PROBE_MS / 1000);
    await expectKind(probe, 'timeout');
    expect(reads('check_vault_access', 'rate_limited')).toBe(1);
    expect(reads('check_vault_access', 'timeout') + reads('check_vault_access')).toBe(0);
    // A timeout says nothing about the window: the next call probes again.
    fixture.setFaults({});
    await provider.checkVaultAccess(token, OP_VAULT);
    expect(reads('check_vault_access')).toBe(1);
  });

  it('lets the next call probe when a probe is overdue', async () => {
    const { provider, reads, advance, token, fixture } = start({ defaultDeadlineMs: 1_000 });
    fixture.setFaults({ rate_limit_after: 0 });
    await expectKind(provider.checkVaultAccess(token, OP_VAULT), 'rate_limited');
    fixture.setFaults({ latency_ms: 500 });
    advance(BACKOFF_FIRST_MS);
    const probe = provider.listItems(token, OP_VAULT);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the probe is under way
    advance(PROBE_MS);
    // Not refused: it reaches the backend as a second probe.
    await provider.checkVaultAccess(token, OP_VAULT);
    await probe;
    expect(reads('check_vault_access')).toBe(1);
    expect(reads('list_items')).toBe(1);
  });
});

describe('budget: forgetting a token', () => {
  it('drops its cached answers and back-off, and tells the backend', async () => {
    const { provider, backend, reads, token, fixture } = start();
    const forget = vi.spyOn(backend, 'forgetToken');
    await provider.listItems(token, OP_VAULT);
    fixture.setFaults({ rate_limit_after: 0 });
    await expectKind(provider.getItem(token, OP_VAULT, ITEM), 'rate_limited');
    fixture.setFaults({});
    provider.forgetToken(token);
    expect(forget).toHaveBeenCalledTimes(1);
    expect(forget).toHaveBeenCalledWith(token);
    await provider.listItems(token, OP_VAULT);
    await provider.getItem(token, OP_VAULT, ITEM);
    expect(reads('list_items')).toBe(2);
    expect(reads('get_item')).toBe(1);
  });
});
