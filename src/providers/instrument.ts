// Counts every call that reaches a backend, by outcome, whichever backend it is. It sits inside the
// request budget (budget.ts), so answers from a brief cache are not counted: these are real reads.
// Labels come from fixed sets (backend, operation, error kind): no token, vault id or message can become a label.

import type { MetricsRegistry } from '../metrics.js';
import { PROVIDER_ERROR_KINDS, ProviderError, type SecretsProvider } from './provider.js';

export type ProviderBackend = 'onepassword' | 'fixture';

/** `ok`, or the kind of ProviderError the call failed with. */
export const OUTCOMES = ['ok', ...PROVIDER_ERROR_KINDS];

export const outcomeOf = (err: unknown) => (err instanceof ProviderError ? err.kind : 'internal');

export function instrumentProvider(provider: SecretsProvider, backend: ProviderBackend, metrics: MetricsRegistry): SecretsProvider {
  const calls = metrics.counter('sesame_provider_calls_total', 'Secrets provider calls, by backend, operation and outcome', {
    backend: ['onepassword', 'fixture'],
    operation: ['check_vault_access', 'list_items', 'get_item'],
    outcome: OUTCOMES,
  });

  function counted<T>(operation: 'check_vault_access' | 'list_items' | 'get_item', call: Promise<T>): Promise<T> {
    return call.then(
      (value) => {
        calls.inc({ backend, operation, outcome: 'ok' });
        return value;
      },
      (err: unknown) => {
        calls.inc({ backend, operation, outcome: outcomeOf(err) });
        throw err;
      },
    );
  }

  return {
    parseToken: (token) => provider.parseToken(token),
    checkVaultAccess: (token, vaultId, options) => counted('check_vault_access', provider.checkVaultAccess(token, vaultId, options)),
    listItems: (token, vaultId, options) => counted('list_items', provider.listItems(token, vaultId, options)),
    getItem: (token, vaultId, itemId, options) => counted('get_item', provider.getItem(token, vaultId, itemId, options)),
    forgetToken: (token) => provider.forgetToken(token),
    close: () => provider.close(),
  };
}
