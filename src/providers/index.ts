// Picks the secrets provider: the fixture file when one is configured, 1Password otherwise.

import { createFixtureProvider } from './onepassword/fixture-backend.js';
import { createSdkProvider } from './onepassword/sdk-backend.js';
import type { SecretsProvider } from './provider.js';

export interface ProviderOptions {
  /** SESAME_ONEPASSWORD_FIXTURE: answer from this file instead of 1Password (tests and demos only). */
  fixturePath?: string;
  loginDeadlineMs: number;
  callDeadlineMs: number;
  /** Sesame's version, sent to 1Password as the integration version. */
  version: string;
  /** Told when the fixture file changes into something unusable. */
  onWarning?: (message: string) => void;
}

export function createProvider(options: ProviderOptions): SecretsProvider {
  if (options.fixturePath) {
    return createFixtureProvider({ path: options.fixturePath, defaultDeadlineMs: options.callDeadlineMs, onWarning: options.onWarning });
  }
  return createSdkProvider({
    loginDeadlineMs: options.loginDeadlineMs,
    callDeadlineMs: options.callDeadlineMs,
    integrationVersion: options.version,
  });
}
