// What runs next to the 1Password SDK, inside the worker: logins, logged-in clients and the three
// operations. Each SDK request runs under its own deadline and every failure is classified once
// (errors.ts). Token shapes were checked by the caller; the worker contains what slips through.

import type { Client, ItemOverview as SdkItemOverview, Website as SdkWebsite } from '@1password/sdk';
import { LRUCache } from 'lru-cache';
import { withDeadline } from '../deadline.js';
import {
  type AutofillBehavior,
  type FieldKind,
  type Item,
  type ItemOverview,
  ProviderError,
  type ProviderErrorKind,
  providerError,
  type ServiceToken,
  type TokenInput,
} from '../provider.js';
import { tokenKey } from '../service-token.js';
import { classifySdkError } from './errors.js';
import type { SdkOperation } from './worker-protocol.js';

/** The part of '@1password/sdk' used here: the module boundary where tests put a fake. */
export type SdkModule = Pick<typeof import('@1password/sdk'), 'createClient'>;

export interface SdkOperationsOptions {
  loadSdk: () => Promise<SdkModule>;
  /** Deadline of `createClient` (the SRP login). */
  loginDeadlineMs: number;
  /** Deadline of each SDK request after login. */
  callDeadlineMs: number;
  /** Sent to 1Password in the User-Agent, next to the integration name "Sesame". */
  integrationVersion: string;
  clientIdleMs: number;
  maxClients: number;
  /** Told the outcome of every SDK request, for the budget metric. */
  onRequest?: (operation: SdkOperation, outcome: 'ok' | ProviderErrorKind) => void;
}

const LOGIN_CATEGORIES: ReadonlySet<string> = new Set(['Login', 'Password']);
const AUTOFILL: ReadonlySet<string> = new Set<AutofillBehavior>(['AnywhereOnWebsite', 'ExactDomain', 'Never']);

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

interface Login {
  promise: Promise<Client>;
  /** Set by forget(): a late success must not bring the client back. */
  forgotten: boolean;
}

export function createSdkOperations(options: SdkOperationsOptions) {
  const { loadSdk, loginDeadlineMs, callDeadlineMs, integrationVersion, onRequest = () => {} } = options;
  // sha256(token) → logged-in client; the SDK has no close(): dropping the reference frees it.
  // Idle eviction: every use extends a client's life.
  const clients = new LRUCache<string, Client>({ max: options.maxClients, ttl: options.clientIdleMs, updateAgeOnGet: true });
  // Logins in flight, joined by concurrent calls until they settle or pass their deadline.
  const logins = new Map<string, Login>();

  function clientFor({ secret: token, key }: ServiceToken): Promise<Client> {
    const cached = clients.get(key);
    if (cached) return Promise.resolve(cached);
    const inFlight = logins.get(key);
    if (inFlight) return inFlight.promise;

    const attempt = loadSdk().then((sdk) => sdk.createClient({ auth: token, integrationName: 'Sesame', integrationVersion }));
    const login: Login = {
      promise: withDeadline(attempt, loginDeadlineMs).catch((err: unknown) => {
        throw classifySdkError(err, 'login');
      }),
      forgotten: false,
    };
    logins.set(key, login);
    // A login that succeeds after its deadline is still kept: the next call needs no new one.
    attempt.then(
      (client) => {
        if (!login.forgotten) clients.set(key, client);
      },
      () => {},
    );
    login.promise.then(
      () => onRequest('login', 'ok'),
      (err: ProviderError) => onRequest('login', err.kind),
    );
    // After its deadline a hung login is left behind (it cannot be cancelled); the next call starts another.
    const settled = () => {
      if (logins.get(key) === login) logins.delete(key);
    };
    login.promise.then(settled, settled);
    return login.promise;
  }

  async function request<T>(operation: SdkOperation, run: () => Promise<T>): Promise<T> {
    try {
      const value = await withDeadline(run(), callDeadlineMs);
      onRequest(operation, 'ok');
      return value;
    } catch (err) {
      const classified = classifySdkError(err, 'call');
      onRequest(operation, classified.kind);
      throw classified;
    }
  }

  async function withClient<T>(input: TokenInput, run: (client: Client) => Promise<T>): Promise<T> {
    // The worker is given the key with the token; a direct caller (tests) may give the text alone.
    const token = typeof input === 'string' ? { secret: input, key: tokenKey(input) } : input;
    const client = await clientFor(token);
    try {
      return await run(client);
    } catch (err) {
      // A token revoked mid-session: drop its client so the next call logs in afresh.
      if (err instanceof ProviderError && err.kind === 'token_rejected') clients.delete(token.key);
      throw err;
    }
  }

  async function vaultListed(client: Client, vaultId: string): Promise<boolean> {
    const vaults = await request('vaults_list', () => client.vaults.list());
    return vaults.some((v) => v.id === vaultId);
  }

  /**
   * Item calls on a vault the token cannot read fail with unhelpful messages (onepassword-sdk-js#146);
   * on an unclear failure, one vaults.list tells "inaccessible vault" apart from the rest.
   */
  async function itemRequest<T>(client: Client, operation: SdkOperation, vaultId: string, run: () => Promise<T>): Promise<T> {
    try {
      return await request(operation, run);
    } catch (err) {
      const unclear = err instanceof ProviderError && (err.kind === 'internal' || err.kind === 'item_not_found');
      if (unclear && !(await vaultListed(client, vaultId))) throw providerError('vault_inaccessible');
      throw err;
    }
  }

  return {
    /** Resolves when the token logs in and `vaultId` is among the vaults it can read. */
    checkVaultAccess(token: TokenInput, vaultId: string): Promise<void> {
      return withClient(token, async (client) => {
        if (!(await vaultListed(client, vaultId))) throw providerError('vault_inaccessible');
      });
    },

    listItems(token: TokenInput, vaultId: string): Promise<ItemOverview[]> {
      return withClient(token, async (client) => {
        const items = await itemRequest(client, 'items_list', vaultId, () => client.items.list(vaultId));
        return items.filter((item) => LOGIN_CATEGORIES.has(item.category)).map(overviewOf);
      });
    },

    getItem(token: TokenInput, vaultId: string, itemId: string): Promise<Item> {
      return withClient(token, async (client): Promise<Item> => {
        const item = await itemRequest(client, 'items_get', vaultId, () => client.items.get(vaultId, itemId));
        return {
          ...overviewOf(item),
          // A TOTP field's value is its seed or otpauth:// URI; the fill layer computes codes.
          fields: item.fields.map((f) => ({ id: f.id, label: f.title, kind: fieldKind(f.fieldType), value: f.value })),
        };
      });
    },

    /** Drops the client (and any login in flight) of the token with this key. */
    forget(key: string): void {
      clients.delete(key);
      const login = logins.get(key);
      if (login) login.forgotten = true;
      logins.delete(key);
    },

    /** Frees clients idle past their time; reads evict lazily, this catches tokens never used again. */
    sweep(): void {
      clients.purgeStale();
    },
  };
}

export type SdkOperations = ReturnType<typeof createSdkOperations>;
