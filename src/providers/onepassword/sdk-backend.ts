// The real backend, on the official 1Password SDK, which runs isolated in worker threads
// (worker-pool.ts; the SDK-facing code is sdk-operations.ts). A token that fails the local shape
// check never reaches the SDK (a crafted one can crash it); every call has a deadline of its own.
// Spending 1Password's request budget carefully (brief caches, coalescing, back-off after a rate
// limit) is not done here but around any backend, by budget.ts.

import { defaultMetrics, type MetricsRegistry } from '../../metrics.js';
import { withDeadline } from '../deadline.js';
import { OUTCOMES } from '../instrument.js';
import { type CallOptions, malformedTokenError, type SecretsProvider, type ServiceToken, type TokenInput } from '../provider.js';
import { resolveToken, tokenKey, tokenParser } from '../service-token.js';
import { checkTokenFormat } from './token-format.js';
import { createSdkWorkerPool, type PoolEvents, type SdkExecutor, WORKER_EXIT_REASONS } from './worker-pool.js';
import { SDK_OPERATIONS, type WorkerCall } from './worker-protocol.js';

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
  metrics?: MetricsRegistry;
  /** Told when a worker stops; messages never carry SDK output. */
  onWarning?: (message: string) => void;
  /** Starts where SDK calls run: a pool of `workers` worker threads unless given (tests start one on a fake SDK). */
  createExecutor?: (events: PoolEvents) => SdkExecutor;
}

const SDK_PROVIDER_DEFAULTS = { workers: 1, clientIdleMs: 15 * 60_000, maxClients: 256 };

// The main thread's own deadline covers the worker's login and call deadlines plus the hop to the worker.
const BACKSTOP_SLACK_MS = 1_000;

export function createSdkProvider(options: SdkProviderOptions): SecretsProvider {
  const { loginDeadlineMs, callDeadlineMs, metrics = defaultMetrics, onWarning = () => {} } = options;

  const requests = metrics.counter('sesame_onepassword_requests_total', 'Requests the 1Password SDK made, by operation and outcome', {
    operation: SDK_OPERATIONS,
    outcome: OUTCOMES,
  });
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

  // Tokens this backend parsed itself: anything else is checked again, since a crafted token can crash the SDK.
  const parsed = new WeakSet<ServiceToken>();
  const parseOnce = tokenParser(checkTokenFormat);
  function parseToken(text: string) {
    const result = parseOnce(text);
    if (result.ok) parsed.add(result.token);
    return result;
  }

  /** Runs `call` in the SDK's worker, after the local token check, within the caller's deadline if it gives one. */
  function run<T>(input: TokenInput, request: (token: ServiceToken) => WorkerCall, callOptions: CallOptions | undefined): Promise<T> {
    const promise = Promise.resolve().then(() => {
      const given = resolveToken(input, parseToken, malformedTokenError);
      const token = parsed.has(given) ? given : resolveToken(given.secret, parseToken, malformedTokenError);
      const call = request(token);
      // Item calls may need a second request: a vaults.list that tells "no such vault" from other failures.
      const backstopMs = loginDeadlineMs + callDeadlineMs * (call.op === 'checkVaultAccess' ? 1 : 2) + BACKSTOP_SLACK_MS;
      return executor.run<T>(call, backstopMs);
    });
    return callOptions?.deadlineMs === undefined ? promise : withDeadline(promise, callOptions.deadlineMs);
  }

  return {
    parseToken,
    checkVaultAccess: (input, vaultId, callOptions) =>
      run<void>(input, ({ secret, key }) => ({ op: 'checkVaultAccess', token: secret, tokenKey: key, vaultId }), callOptions),
    listItems: (input, vaultId, callOptions) =>
      run(input, ({ secret, key }) => ({ op: 'listItems', token: secret, tokenKey: key, vaultId }), callOptions),
    getItem: (input, vaultId, itemId, callOptions) =>
      run(input, ({ secret, key }) => ({ op: 'getItem', token: secret, tokenKey: key, vaultId, itemId }), callOptions),
    forgetToken: (input) => executor.forget(typeof input === 'string' ? tokenKey(input) : input.key),
    close: () => executor.close(),
  };
}
