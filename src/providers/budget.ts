// The request budget (docs/onepassword.md, "How Sesame spends them"), as one layer around whichever
// backend answers, 1Password's SDK or the fixture that stands in for it, so tests and benchmarks run
// the path production runs:
// - a token that fails the local shape check never reaches the backend;
// - vault-access answers and item overviews are reused for a short while, per (token hash, vault),
//   unless the caller asks for a fresh answer; secret values are never cached;
// - identical concurrent calls share one backend call;
// - after a rate limit, calls for that token fail fast until a back-off ends, then one call probes.

import { LRUCache } from 'lru-cache';
import { defaultMetrics, type MetricsRegistry } from '../metrics.js';
import { withDeadline } from './deadline.js';
import { outcomeOf } from './instrument.js';
import {
  type CallOptions,
  type Item,
  type ItemOverview,
  malformedTokenError,
  ProviderError,
  type ProviderErrorKind,
  providerError,
  type SecretsProvider,
  type ServiceToken,
  type TokenInput,
} from './provider.js';
import { resolveToken, tokenKey } from './service-token.js';

export interface BudgetOptions {
  /** How long vault-access answers and item overviews are reused; 0 turns this off. */
  cacheTtlMs: number;
  /**
   * The longest a backend call takes (its own deadlines included). While one call probes whether a
   * rate limit is over, the token's other calls are told to retry after this; a probe still
   * unanswered by then lets the next call probe instead.
   */
  probeMs?: number;
  metrics?: MetricsRegistry;
  now?: () => number;
}

// Back-off after a rate limit: 1Password's hourly window starts at a token's first request and the
// SDK does not say when it ends, so probe after 1 minute, then 2, 4, 8, at most every 15 minutes.
export const BACKOFF_FIRST_MS = 60_000;
const BACKOFF_MAX_MS = 15 * 60_000;
// Outcomes that show the provider answered normally, so the token's window allows calls again.
const ANSWERED: ReadonlySet<string> = new Set(['ok', 'token_rejected', 'vault_inaccessible', 'item_not_found']);
const DEFAULT_PROBE_MS = 30_000;
const MAX_ACCESS_ENTRIES = 10_000;
const MAX_OVERVIEW_ENTRIES = 256;
const MAX_BACKOFF_ENTRIES = 10_000;

type Operation = 'checkVaultAccess' | 'listItems' | 'getItem';
const OPERATION_NAMES = { checkVaultAccess: 'check_vault_access', listItems: 'list_items', getItem: 'get_item' } as const;

type Access = 'ok' | 'vault_inaccessible';

interface Backoff {
  /** No call before this time (while a call probes: when that probe is due, for Retry-After). */
  until: number;
  /** Rate limits in a row; each doubles the wait. */
  streak: number;
}

export function withBudget(backend: SecretsProvider, options: BudgetOptions): SecretsProvider {
  const { cacheTtlMs, probeMs = DEFAULT_PROBE_MS, metrics = defaultMetrics, now = Date.now } = options;

  const cacheLookups = metrics.counter(
    'sesame_provider_cache_total',
    'Provider answers looked up in the brief cache, by cache and result',
    {
      cache: ['vault_access', 'item_overviews'],
      result: ['hit', 'miss'],
    },
  );
  const coalesced = metrics.counter('sesame_provider_coalesced_total', 'Provider calls that joined an identical call in flight', {
    operation: ['check_vault_access', 'list_items', 'get_item'],
  });
  const backoffRefusals = metrics.counter(
    'sesame_provider_backoff_refusals_total',
    'Provider calls refused without asking 1Password, because the token is backing off after a rate limit',
    {},
  );

  // `${tokenKey}:${vaultId}` → what was last learnt about that pair.
  // Bounded, least recently used out first; entries expire `ttl` after they are set (the clock is ours, for tests).
  const lru = <V extends {}>(max: number, ttl: number) => new LRUCache<string, V>({ max, ttl, perf: { now }, ttlResolution: 0 });
  const access = lru<Access>(MAX_ACCESS_ENTRIES, cacheTtlMs);
  const overviews = lru<ItemOverview[]>(MAX_OVERVIEW_ENTRIES, cacheTtlMs);
  const backoffs = lru<Backoff>(MAX_BACKOFF_ENTRIES, 2 * BACKOFF_MAX_MS);
  // A cache time of 0 turns caching off (for LRUCache, a ttl of 0 would mean "never expires").
  const remember = <V extends {}>(cache: LRUCache<string, V>, key: string, value: V) => cacheTtlMs > 0 && cache.set(key, value);
  const inFlight = new Map<string, Promise<unknown>>();

  /** The call's token, checked once for the whole stack below: the backend gets it parsed. */
  function tokenOf(input: TokenInput): ServiceToken {
    return resolveToken(input, backend.parseToken, malformedTokenError);
  }

  /** The caller's deadline bounds the whole call, waiting for a shared call included. */
  function bounded<T>(callOptions: CallOptions | undefined, work: () => Promise<T>): Promise<T> {
    const promise = Promise.resolve().then(work);
    return callOptions?.deadlineMs === undefined ? promise : withDeadline(promise, callOptions.deadlineMs);
  }

  /**
   * Fails fast while the token backs off; once the back-off ends, lets one call through to probe.
   * Returns whether this call is that probe.
   */
  function admit(key: string): boolean {
    const backoff = backoffs.get(key);
    if (!backoff) return false;
    const at = now();
    if (at < backoff.until) {
      backoffRefusals.inc({});
      throw providerError('rate_limited', Math.max(1, Math.ceil((backoff.until - at) / 1000)));
    }
    backoff.until = at + probeMs;
    return true;
  }

  /** Updates the back-off after a backend call; a rate limit comes back with the back-off as its Retry-After. */
  function recordOutcome(key: string, probe: boolean, outcome: 'ok' | ProviderErrorKind, err?: ProviderError): ProviderError | undefined {
    const backoff = backoffs.get(key);
    const at = now();
    if (outcome === 'rate_limited') {
      // A call sent before the back-off began, answered during it, changes nothing.
      if (backoff && !probe && at < backoff.until) return providerError('rate_limited', Math.ceil((backoff.until - at) / 1000));
      const streak = (backoff?.streak ?? 0) + 1;
      const delayMs = Math.max(Math.min(BACKOFF_FIRST_MS * 2 ** (streak - 1), BACKOFF_MAX_MS), (err?.retryAfterSeconds ?? 0) * 1000);
      backoffs.set(key, { until: at + delayMs, streak });
      return providerError('rate_limited', Math.ceil(delayMs / 1000));
    }
    if (!backoff || !probe) return undefined;
    // A timeout or an outage says nothing about the window: the next call probes again.
    if (ANSWERED.has(outcome)) backoffs.delete(key);
    else backoff.until = at;
    return undefined;
  }

  function forgetCached(key: string): void {
    for (const cache of [access, overviews] as LRUCache<string, object>[]) {
      for (const scope of [...cache.keys()]) if (scope.startsWith(`${key}:`)) cache.delete(scope);
    }
  }

  /** Runs `call` on the backend, shared with identical calls in flight; every caller gets its own copy. */
  async function execute<T>(op: Operation, key: string, vaultId: string, itemId: string, call: () => Promise<T>): Promise<T> {
    const id = [op, key, vaultId, itemId].join('\0');
    let shared = inFlight.get(id) as Promise<T> | undefined;
    if (shared) coalesced.inc({ operation: OPERATION_NAMES[op] });
    else {
      shared = start(op, key, vaultId, call);
      inFlight.set(id, shared);
      const done = () => inFlight.delete(id);
      shared.then(done, done);
    }
    return structuredClone(await shared);
  }

  async function start<T>(op: Operation, key: string, vaultId: string, call: () => Promise<T>): Promise<T> {
    const scope = `${key}:${vaultId}`;
    const probe = admit(key);
    let value: T;
    try {
      value = await call();
    } catch (err) {
      const kind = outcomeOf(err);
      const rateLimited = recordOutcome(key, probe, kind, err instanceof ProviderError ? err : undefined);
      if (kind === 'vault_inaccessible') {
        remember(access, scope, 'vault_inaccessible');
        overviews.delete(scope);
      }
      if (kind === 'token_rejected') forgetCached(key);
      throw rateLimited ?? err;
    }
    recordOutcome(key, probe, 'ok');
    remember(access, scope, 'ok');
    if (op === 'listItems') remember(overviews, scope, value as ItemOverview[]);
    return value;
  }

  /** A known refusal of this vault, unless the caller wants a fresh answer. */
  function knownAccess(scope: string, callOptions: CallOptions | undefined): Access | undefined {
    if (callOptions?.fresh) return undefined;
    return access.get(scope);
  }

  // The backend gets no deadline of ours: a shared call must not end at the first caller's deadline
  // (each caller's own is applied by `bounded`), and the backends bound every call themselves.
  return {
    parseToken: (token) => backend.parseToken(token),

    checkVaultAccess(input, vaultId, callOptions) {
      return bounded(callOptions, async () => {
        const token = tokenOf(input);
        const { key } = token;
        const known = knownAccess(`${key}:${vaultId}`, callOptions);
        if (!callOptions?.fresh) cacheLookups.inc({ cache: 'vault_access', result: known ? 'hit' : 'miss' });
        if (known === 'ok') return;
        if (known) throw providerError(known);
        await execute('checkVaultAccess', key, vaultId, '', () => backend.checkVaultAccess(token, vaultId));
      });
    },

    listItems(input, vaultId, callOptions) {
      return bounded(callOptions, async () => {
        const token = tokenOf(input);
        const { key } = token;
        const scope = `${key}:${vaultId}`;
        if (knownAccess(scope, callOptions) === 'vault_inaccessible') throw providerError('vault_inaccessible');
        if (!callOptions?.fresh) {
          const cached = overviews.get(scope);
          cacheLookups.inc({ cache: 'item_overviews', result: cached ? 'hit' : 'miss' });
          if (cached) return structuredClone(cached);
        }
        return execute('listItems', key, vaultId, '', () => backend.listItems(token, vaultId));
      });
    },

    getItem(input, vaultId, itemId, callOptions) {
      return bounded(callOptions, async () => {
        const token = tokenOf(input);
        const { key } = token;
        if (knownAccess(`${key}:${vaultId}`, callOptions) === 'vault_inaccessible') throw providerError('vault_inaccessible');
        return execute<Item>('getItem', key, vaultId, itemId, () => backend.getItem(token, vaultId, itemId));
      });
    },

    forgetToken(token) {
      const key = typeof token === 'string' ? tokenKey(token) : token.key;
      forgetCached(key);
      backoffs.delete(key);
      backend.forgetToken(token);
    },

    async close() {
      access.clear();
      overviews.clear();
      backoffs.clear();
      await backend.close();
    },
  };
}
