// The one place the provider stack is put together: a backend (the fixture file when one is
// configured, 1Password otherwise, or one a test passes in), every call that reaches it counted in
// the metrics by outcome, and the request budget around it (brief caches, coalescing, back-off),
// so every path through the server spends provider reads the way production does.

import { defaultMetrics } from '../metrics.js';
import { withBudget } from './budget.js';
import { instrumentProvider } from './instrument.js';
import { createFixtureProvider } from './onepassword/fixture-backend.js';
import { createSdkProvider, type SdkProviderOptions } from './onepassword/sdk-backend.js';
import type { SecretsProvider } from './provider.js';

export interface ProviderOptions
  extends Pick<SdkProviderOptions, 'loginDeadlineMs' | 'callDeadlineMs' | 'workers' | 'clientIdleMs' | 'maxClients' | 'metrics'> {
  /** SESAME_ONEPASSWORD_FIXTURE: answer from this file instead of 1Password (tests and demos only). */
  fixturePath?: string;
  /** Sesame's version, sent to 1Password as the integration version. */
  version: string;
  /** How long vault-access answers and item overviews are reused (SESAME_PROVIDER_CACHE_TTL_MS); 0, the default, turns this off. */
  cacheTtlMs?: number;
  /** Told when the fixture file changes into something unusable, or an SDK worker stops. */
  onWarning?: (message: string) => void;
  /** Replaces the configured backend (tests); it is counted as the fixture. */
  backend?: SecretsProvider;
}

export function createProvider(options: ProviderOptions): SecretsProvider {
  const metrics = options.metrics ?? defaultMetrics;
  const counted = options.backend
    ? instrumentProvider(options.backend, 'fixture', metrics)
    : options.fixturePath
      ? instrumentProvider(
          createFixtureProvider({ path: options.fixturePath, defaultDeadlineMs: options.callDeadlineMs, onWarning: options.onWarning }),
          'fixture',
          metrics,
        )
      : instrumentProvider(
          createSdkProvider({
            loginDeadlineMs: options.loginDeadlineMs,
            callDeadlineMs: options.callDeadlineMs,
            integrationVersion: options.version,
            workers: options.workers,
            clientIdleMs: options.clientIdleMs,
            maxClients: options.maxClients,
            metrics,
            onWarning: options.onWarning,
          }),
          'onepassword',
          metrics,
        );
  return withBudget(counted, {
    cacheTtlMs: options.cacheTtlMs ?? 0,
    // The longest a backend call takes: a login, the call, and a vaults.list that classifies a failure.
    probeMs: options.loginDeadlineMs + 2 * options.callDeadlineMs,
    metrics,
  });
}
