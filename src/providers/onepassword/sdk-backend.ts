// The real backend, on the official 1Password SDK, which runs isolated in worker threads
// (worker-pool.ts; the SDK-facing code is sdk-operations.ts). This side spends 1Password's request
// budget carefully (docs/onepassword.md):
// - a token that fails the local shape check never reaches the SDK;
// - vault-access answers and item overviews are reused for a short while, per (token hash, vault),
//   unless the caller asks for a fresh answer; secret values are never cached;
// - identical concurrent calls share one SDK call;
// - after a rate limit, calls for that token fail fast until a back-off ends, then one call probes.

import { defaultMetrics, type MetricsRegistry } from '../../metrics.js';
import { OUTCOMES, outcomeOf } from '../instrument.js';
import {
  type CallOptions,
  type Item,
  type ItemOverview,
  ProviderError,
  type ProviderErrorKind,
  type SecretsProvider,
} from '../provider.js';
import { withDeadline } from './deadline.js';
import { malformedTokenError, providerError } from './errors.js';
import { checkTokenFormat } from './token-format.js';
import { TtlCache } from './ttl-cache.js';
import { createSdkWorkerPool, type PoolEvents, type SdkExecutor, WORKER_EXIT_REASONS } from './worker-pool.js';
import { SDK_OPERATIONS, tokenKey, type WorkerCall } from './worker-protocol.js';

export interface SdkProviderOptions {
  /** Deadline of the SRP login. */
  loginDeadlineMs: number;
  /** Deadline of each SDK request after login. */
  callDeadlineMs: number;
  /** Sent to 1Password in the User-Agent, next to the integration name "Sesame". */
  integrationVersion: string;
  /** Worker threads hosting the SDK. */
  workers?: number;
  /** A logged-in client unused this long is dropped. */
  clientIdleMs?: number;
  /** Logged-in clients kept per worker; the least recently used goes first. */
  maxClients?: number;
  /** How long vault-access answers and item overviews are reused; 0 turns this off. */
  cacheTtlMs?: number;
  metrics?: MetricsRegistry;
  /** Told when a worker stops; messages never carry SDK output. */
  onWarning?: (message: string) => void;
  /** Starts where SDK calls run: a pool of `workers` worker threads unless given (tests start one on a fake SDK). */
  createExecutor?: (events: PoolEvents) => SdkExecutor;
  now?: () => number;
}

const SDK_PROVIDER_DEFAULTS = { workers: 1, clientIdleMs: 15 * 60_000, maxClients: 256, cacheTtlMs: 30_000 };

// Back-off after a rate limit: 1Password's hourly window starts at a token's first request and the
// SDK does not say when it ends, so probe after 1 minute, then 2, 4, 8, at most every 15 minutes.
export const BACKOFF_FIRST_MS = 60_000;
const BACKOFF_MAX_MS = 15 * 60_000;
// Outcomes that show 1Password answered normally, so the token's window allows calls again.
const ANSWERED: ReadonlySet<string> = new Set(['ok', 'token_rejected', 'vault_inaccessible', 'item_not_found']);
// The main thread's own deadline covers the worker's login and call deadlines plus the hop to the worker.
const BACKSTOP_SLACK_MS = 1_000;
const MAX_ACCESS_ENTRIES = 10_000;
const MAX_OVERVIEW_ENTRIES = 256;
const MAX_BACKOFF_ENTRIES = 10_000;

const OPERATION_NAMES = { checkVaultAccess: 'check_vault_access', listItems: 'list_items', getItem: 'get_item' } as const;

type Access = 'ok' | 'vault_inaccessible';

interface Backoff {
  /** No call before this time (while probing: the probe's deadline, for Retry-After). */
  until: number;
  /** Rate limits in a row; each doubles the wait. */
  streak: number;
  /** One call is testing whether the window has reset; the others wait for its answer. */
  probing: boolean;
}

export function createSdkProvider(options: SdkProviderOptions): SecretsProvider {
  const { loginDeadlineMs, callDeadlineMs, metrics = defaultMetrics, onWarning = () => {}, now = Date.now } = options;
  const cacheTtlMs = options.cacheTtlMs ?? SDK_PROVIDER_DEFAULTS.cacheTtlMs;

  const requests = metrics.counter('sesame_onepassword_requests_total', 'Requests the 1Password SDK made, by operation and outcome', {
    operation: SDK_OPERATIONS,
    outcome: OUTCOMES,
  });
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
  const workerExits = metrics.counter('sesame_onepassword_worker_exits_total', 'SDK worker threads that stopped, by reason', {
    reason: WORKER_EXIT_REASONS,
  });

  const events: PoolEvents = {
    onRequest: (operation, outcome) => requests.inc({ operation, outcome }),
    onExit: (reason) => {
      workerExits.inc({ reason });
      onWarning(`1Password SDK worker stopped (${reason}); its calls in flight failed, the next call starts a new worker`);
    },
  };
  const executor =
    options.createExecutor?.(events) ??
    createSdkWorkerPool({
      ...events,
      size: options.workers ?? SDK_PROVIDER_DEFAULTS.workers,
      loginDeadlineMs,
      callDeadlineMs,
      integrationVersion: options.integrationVersion,
      clientIdleMs: options.clientIdleMs ?? SDK_PROVIDER_DEFAULTS.clientIdleMs,
      maxClients: options.maxClients ?? SDK_PROVIDER_DEFAULTS.maxClients,
    });

  // `${tokenKey}:${vaultId}` → what was last learnt about that pair.
  const access = new TtlCache<Access>({ ttlMs: cacheTtlMs, maxEntries: MAX_ACCESS_ENTRIES, now });
  const overviews = new TtlCache<ItemOverview[]>({ ttlMs: cacheTtlMs, maxEntries: MAX_OVERVIEW_ENTRIES, now });
  const backoffs = new TtlCache<Backoff>({ ttlMs: 2 * BACKOFF_MAX_MS, maxEntries: MAX_BACKOFF_ENTRIES, now });
  const inFlight = new Map<string, Promise<unknown>>();

  function keyOf(token: string): string {
    const check = checkTokenFormat(token);
    if (!check.ok) throw malformedTokenError(check.reason);
    return tokenKey(token);
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
  function admit(key: string, backstopMs: number): boolean {
    const backoff = backoffs.get(key);
    if (!backoff) return false;
    const at = now();
    if (backoff.probing || at < backoff.until) {
      backoffRefusals.inc({});
      throw providerError('rate_limited', Math.max(1, Math.ceil((backoff.until - at) / 1000)));
    }
    backoff.probing = true;
    backoff.until = at + backstopMs;
    return true;
  }

  /** Updates the back-off after an SDK call; a rate limit comes back with the back-off as its Retry-After. */
  function recordOutcome(key: string, probe: boolean, outcome: 'ok' | ProviderErrorKind, err?: ProviderError): ProviderError | undefined {
    const backoff = backoffs.get(key);
    const at = now();
    if (outcome === 'rate_limited') {
      // A call sent before the back-off began, answered during it, changes nothing.
      if (backoff && !probe && at < backoff.until) return providerError('rate_limited', Math.ceil((backoff.until - at) / 1000));
      const streak = (backoff?.streak ?? 0) + 1;
      const delayMs = Math.max(Math.min(BACKOFF_FIRST_MS * 2 ** (streak - 1), BACKOFF_MAX_MS), (err?.retryAfterSeconds ?? 0) * 1000);
      backoffs.set(key, { until: at + delayMs, streak, probing: false });
      return providerError('rate_limited', Math.ceil(delayMs / 1000));
    }
    if (!backoff || !probe) return undefined;
    // A timeout or an outage says nothing about the window: the next call probes again.
    if (ANSWERED.has(outcome)) backoffs.delete(key);
    else {
      backoff.probing = false;
      backoff.until = at;
    }
    return undefined;
  }

  function forgetCached(key: string): void {
    access.deletePrefix(`${key}:`);
    overviews.deletePrefix(`${key}:`);
  }

  /** Runs `call` in the SDK's worker, shared with identical calls in flight; every caller gets its own copy. */
  async function execute<T>(key: string, call: WorkerCall): Promise<T> {
    const id = [call.op, key, call.vaultId, call.op === 'getItem' ? call.itemId : ''].join('\0');
    let shared = inFlight.get(id) as Promise<T> | undefined;
    if (shared) coalesced.inc({ operation: OPERATION_NAMES[call.op] });
    else {
      shared = start<T>(key, call);
      inFlight.set(id, shared);
      const done = () => inFlight.delete(id);
      shared.then(done, done);
    }
    return structuredClone(await shared);
  }

  async function start<T>(key: string, call: WorkerCall): Promise<T> {
    const scope = `${key}:${call.vaultId}`;
    const backstopMs = loginDeadlineMs + callDeadlineMs * (call.op === 'checkVaultAccess' ? 1 : 2) + BACKSTOP_SLACK_MS;
    const probe = admit(key, backstopMs);
    let value: T;
    try {
      value = await executor.run<T>(call, backstopMs);
    } catch (err) {
      const kind = outcomeOf(err);
      const rateLimited = recordOutcome(key, probe, kind, err instanceof ProviderError ? err : undefined);
      if (kind === 'vault_inaccessible') {
        access.set(scope, 'vault_inaccessible');
        overviews.delete(scope);
      }
      if (kind === 'token_rejected') forgetCached(key);
      throw rateLimited ?? err;
    }
    recordOutcome(key, probe, 'ok');
    access.set(scope, 'ok');
    if (call.op === 'listItems') overviews.set(scope, value as ItemOverview[]);
    return value;
  }

  /** A known refusal of this vault, unless the caller wants a fresh answer. */
  function knownAccess(scope: string, callOptions: CallOptions | undefined): Access | undefined {
    if (callOptions?.fresh) return undefined;
    return access.get(scope);
  }

  return {
    checkTokenFormat,

    checkVaultAccess(token, vaultId, callOptions) {
      return bounded(callOptions, async () => {
        const key = keyOf(token);
        const known = knownAccess(`${key}:${vaultId}`, callOptions);
        if (!callOptions?.fresh) cacheLookups.inc({ cache: 'vault_access', result: known ? 'hit' : 'miss' });
        if (known === 'ok') return;
        if (known) throw providerError(known);
        await execute<void>(key, { op: 'checkVaultAccess', token, vaultId });
      });
    },

    listItems(token, vaultId, callOptions) {
      return bounded(callOptions, async () => {
        const key = keyOf(token);
        const scope = `${key}:${vaultId}`;
        if (knownAccess(scope, callOptions) === 'vault_inaccessible') throw providerError('vault_inaccessible');
        if (!callOptions?.fresh) {
          const cached = overviews.get(scope);
          cacheLookups.inc({ cache: 'item_overviews', result: cached ? 'hit' : 'miss' });
          if (cached) return structuredClone(cached);
        }
        return execute<ItemOverview[]>(key, { op: 'listItems', token, vaultId });
      });
    },

    getItem(token, vaultId, itemId, callOptions) {
      return bounded(callOptions, async () => {
        const key = keyOf(token);
        if (knownAccess(`${key}:${vaultId}`, callOptions) === 'vault_inaccessible') throw providerError('vault_inaccessible');
        return execute<Item>(key, { op: 'getItem', token, vaultId, itemId });
      });
    },

    forgetToken(token) {
      const key = tokenKey(token);
      forgetCached(key);
      backoffs.delete(key);
      executor.forget(key);
    },

    async close() {
      access.clear();
      overviews.clear();
      await executor.close();
    },
  };
}
