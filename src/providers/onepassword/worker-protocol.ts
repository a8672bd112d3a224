// What the provider (main thread) and the SDK worker say to each other. Errors cross as a kind only:
// class identity does not survive postMessage, and an SDK message must not travel anyway.

import type { ProviderErrorKind } from '../provider.js';

/** The SDK requests that spend 1Password's budget, as counted in metrics. */
export type SdkOperation = 'login' | 'vaults_list' | 'items_list' | 'items_get';
export const SDK_OPERATIONS: readonly SdkOperation[] = ['login', 'vaults_list', 'items_list', 'items_get'];

/** `tokenKey` is the token's SHA-256, computed once in the main thread: it picks the worker and the SDK client. */
export type WorkerCall =
  | { op: 'checkVaultAccess'; token: string; tokenKey: string; vaultId: string }
  | { op: 'listItems'; token: string; tokenKey: string; vaultId: string }
  | { op: 'getItem'; token: string; tokenKey: string; vaultId: string; itemId: string };

export type ToWorker = ({ type: 'call'; id: number } & WorkerCall) | { type: 'forget'; tokenKey: string } | { type: 'ping'; id: number };

export type FromWorker =
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; kind: ProviderErrorKind; retryAfterSeconds?: number }
  | { type: 'pong'; id: number }
  | { type: 'request'; operation: SdkOperation; outcome: 'ok' | ProviderErrorKind };

/** The worker's `workerData`. */
export interface WorkerSettings {
  loginDeadlineMs: number;
  callDeadlineMs: number;
  integrationVersion: string;
  /** A logged-in client unused this long is dropped. */
  clientIdleMs: number;
  maxClients: number;
  /** Tests only: the URL of a module that stands in for '@1password/sdk'. */
  sdkModule?: string;
}
