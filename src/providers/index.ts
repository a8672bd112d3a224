// Picks the secrets provider's backend: the fixture file when one is configured, 1Password otherwise.
// Either way every call that reaches it is counted in the metrics, by outcome. The request budget
// (budget.ts: brief caches, coalescing, back-off) is put around it where the server is assembled
// (cli/serve.ts), so it also covers a backend a test passes in.

import { defaultMetrics } from '../metrics.js';
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
  /** Told when the fixture file changes into something unusable, or an SDK worker stops. */
  onWarning?: (message: string) => void;
}

export function createProvider(options: ProviderOptions): SecretsProvider {
  const metrics = options.metrics ?? defaultMetrics;
  if (options.fixturePath) {
    const fixture = createFixtureProvider({
      path: options.fixturePath,
      defaultDeadlineMs: options.callDeadlineMs,
      onWarning: options.onWarning,
    });
    return instrumentProvider(fixture, 'fixture', metrics);
  }
  const sdk = createSdkProvider({
    loginDeadlineMs: options.loginDeadlineMs,
    callDeadlineMs: options.callDeadlineMs,
    integrationVersion: options.version,
    workers: options.workers,
    clientIdleMs: options.clientIdleMs,
    maxClients: options.maxClients,
    metrics,
    onWarning: options.onWarning,
  });
  return instrumentProvider(sdk, 'onepassword', metrics);
}
