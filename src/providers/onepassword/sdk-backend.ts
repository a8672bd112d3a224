// The real backend, on the official 1Password SDK. This is the only module that imports it,
// and it does so lazily: loading the SDK compiles 14 MB of WebAssembly (~28 MB, ~150 ms).
// Every token passes the local shape check first, every SDK call runs under a deadline, and
// every SDK error is classified once, in errors.ts.
// Isolation of the SDK in a worker (a crafted token can panic its core) comes later; the
// mapping functions are pure and the only state is the client cache, to make that move easy.

import { createHash } from 'node:crypto';
import type { Client, ItemOverview as SdkItemOverview, Website as SdkWebsite } from '@1password/sdk';
import {
  type AutofillBehavior,
  type CallOptions,
  type FieldKind,
  type Item,
  type ItemOverview,
  ProviderError,
  type SecretsProvider,
} from '../provider.js';
import { withDeadline } from './deadline.js';
import { classifySdkError, malformedTokenError, providerError } from './errors.js';
import { checkTokenFormat } from './token-format.js';

export interface SdkProviderOptions {
  /** Deadline of `createClient` (the SRP login). */
  loginDeadlineMs: number;
  /** Deadline of each SDK call after login. */
  callDeadlineMs: number;
  /** Sent to 1Password in the User-Agent, next to the integration name "Sesame". */
  integrationVersion: string;
}

type Sdk = typeof import('@1password/sdk');

const LOGIN_CATEGORIES: ReadonlySet<string> = new Set(['Login', 'Password']);
const AUTOFILL: ReadonlySet<string> = new Set<AutofillBehavior>(['AnywhereOnWebsite', 'ExactDomain', 'Never']);

// Node caches the module after the first import.
const loadSdk = (): Promise<Sdk> => import('@1password/sdk');

function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function isoDate(value: Date | string): string {
  // The SDK revives only dates ending in "Z"; anything else stays a string.
  return value instanceof Date ? value.toISOString() : String(value);
}

function websiteOf(w: SdkWebsite): { url: string; autofill: AutofillBehavior } {
  // An unknown behaviour from a newer SDK falls back to the narrowest one that still fills.
  return { url: w.url, autofill: AUTOFILL.has(w.autofillBehavior) ? (w.autofillBehavior as AutofillBehavior) : 'ExactDomain' };
}

function overviewOf(item: Pick<SdkItemOverview, 'id' | 'title' | 'category' | 'updatedAt' | 'websites'>): ItemOverview {
  return {
    id: item.id,
    title: item.title,
    category: item.category,
    updatedAt: isoDate(item.updatedAt),
    websites: (item.websites ?? []).map(websiteOf),
  };
}

function fieldKind(fieldType: string): FieldKind {
  if (fieldType === 'Totp') return 'totp';
  if (fieldType === 'Concealed') return 'concealed';
  return 'text';
}

export function createSdkProvider(options: SdkProviderOptions): SecretsProvider {
  const { loginDeadlineMs, callDeadlineMs, integrationVersion } = options;
  // sha256(token) → the login in flight or done. A login outliving its deadline stays here,
  // so the next call waits for it instead of starting another; a failed login is dropped.
  const clients = new Map<string, Promise<Client>>();

  function clientFor(token: string): Promise<Client> {
    const key = tokenKey(token);
    let login = clients.get(key);
    if (!login) {
      const started = loadSdk().then((sdk) => sdk.createClient({ auth: token, integrationName: 'Sesame', integrationVersion }));
      login = started;
      clients.set(key, started);
      started.catch(() => {
        if (clients.get(key) === started) clients.delete(key);
      });
    }
    return withDeadline(login, loginDeadlineMs).catch((err: unknown) => {
      throw classifySdkError(err, 'login');
    });
  }

  async function sdkCall<T>(client: Client, run: (client: Client) => Promise<T>): Promise<T> {
    try {
      return await withDeadline(run(client), callDeadlineMs);
    } catch (err) {
      throw classifySdkError(err, 'call');
    }
  }

  async function vaultListed(client: Client, vaultId: string): Promise<boolean> {
    const vaults = await sdkCall(client, (c) => c.vaults.list());
    return vaults.some((v) => v.id === vaultId);
  }

  /** Runs `run` with a logged-in client; the caller's deadline, when given, bounds login and call together. */
  function withClient<T>(token: string, callOptions: CallOptions | undefined, run: (client: Client) => Promise<T>): Promise<T> {
    const check = checkTokenFormat(token);
    if (!check.ok) return Promise.reject(malformedTokenError(check.reason));
    const work = (async () => {
      const client = await clientFor(token);
      try {
        return await run(client);
      } catch (err) {
        // A token revoked mid-session: drop its client so the next call logs in afresh.
        if (err instanceof ProviderError && err.kind === 'token_rejected') clients.delete(tokenKey(token));
        throw err;
      }
    })();
    return callOptions?.deadlineMs === undefined ? work : withDeadline(work, callOptions.deadlineMs);
  }

  /**
   * Item calls on a vault the token cannot read fail with unhelpful messages (onepassword-sdk-js#146);
   * on an unclear failure, one vaults.list tells "inaccessible vault" apart from the rest.
   */
  async function itemCall<T>(client: Client, vaultId: string, run: (client: Client) => Promise<T>): Promise<T> {
    try {
      return await sdkCall(client, run);
    } catch (err) {
      const unclear = err instanceof ProviderError && (err.kind === 'internal' || err.kind === 'item_not_found');
      if (unclear && !(await vaultListed(client, vaultId))) throw providerError('vault_inaccessible');
      throw err;
    }
  }

  return {
    checkTokenFormat,

    checkVaultAccess(token, vaultId, callOptions) {
      return withClient(token, callOptions, async (client) => {
        if (!(await vaultListed(client, vaultId))) throw providerError('vault_inaccessible');
      });
    },

    listItems(token, vaultId, callOptions) {
      return withClient(token, callOptions, async (client) => {
        const items = await itemCall(client, vaultId, (c) => c.items.list(vaultId));
        return items.filter((item) => LOGIN_CATEGORIES.has(item.category)).map(overviewOf);
      });
    },

    getItem(token, vaultId, itemId, callOptions) {
      return withClient(token, callOptions, async (client): Promise<Item> => {
        const item = await itemCall(client, vaultId, (c) => c.items.get(vaultId, itemId));
        return {
          ...overviewOf(item),
          // A TOTP field's value is its seed or otpauth:// URI; the fill layer computes codes.
          fields: item.fields.map((f) => ({ id: f.id, label: f.title, kind: fieldKind(f.fieldType), value: f.value })),
        };
      });
    },

    forgetToken(token) {
      // Dropping the reference is the SDK's only way to close a client.
      clients.delete(tokenKey(token));
    },

    async close() {
      clients.clear();
    },
  };
}
