// What a token meets in the fake SDK (fake-sdk.mjs): carried inside the token itself.

import { mintFakeToken } from '../../../src/providers/onepassword/fake-token.js';
import type { SdkOperation } from '../../../src/providers/onepassword/worker-protocol.js';

export const FAKE_SDK_MODULE = new URL('./fake-sdk.mjs', import.meta.url).href;
/** The real SDK with `fetch` replaced inside the worker: nothing leaves the machine. */
export const OFFLINE_SDK_MODULE = new URL('./offline-sdk.mjs', import.meta.url).href;

export type FaultError =
  | 'hang' // the request never settles
  | 'block' // the worker's event loop stops turning
  | 'oom' // the worker's heap grows without bound
  | 'panic' // an uncaught WebAssembly RuntimeError, as the real core throws
  | 'rate_limit'
  | 'unauthenticated'
  | 'session_expired'
  | 'forbidden'
  | 'server_error'
  | 'bad_gateway'
  | 'network';

export interface Fault {
  op: SdkOperation;
  error: FaultError;
  /** The first request (1-based, per token and operation, per worker) that fails; default 1. */
  from?: number;
  /** How many requests fail from there; default all. */
  times?: number;
}

export interface FakeItem {
  id: string;
  title: string;
  category?: string;
  updatedAt?: string;
  websites?: { url: string; autofillBehavior?: string }[];
  fields?: { id: string; title?: string; fieldType: string; value: string }[];
}

export interface Scenario {
  vaults?: Record<string, { title?: string; items?: FakeItem[] }>;
  faults?: Fault[];
  latencyMs?: number;
}

export const VAULT = 'v5pz6venw4roosmkzdq2nhpv6u';
export const OTHER_VAULT = 'bbbbbbbbbbbbbbbbbbbbbbbbbb';
export const PASSWORD = 'correct horse battery staple';
export const TOTP_SEED = 'otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP';

export const ITEMS: FakeItem[] = [
  {
    id: 'exampleloginitem0000000000',
    title: 'Example',
    category: 'Login',
    updatedAt: '2026-01-01T00:00:00Z',
    websites: [{ url: 'https://example.com/login' }, { url: 'https://admin.example.com', autofillBehavior: 'ExactDomain' }],
    fields: [
      { id: 'username', fieldType: 'Text', value: 'alice' },
      { id: 'password', fieldType: 'Concealed', value: PASSWORD },
      { id: 'onetimepassword', title: 'one-time password', fieldType: 'Totp', value: TOTP_SEED },
    ],
  },
  { id: 'secureNote0000000000000000', title: 'Notes', category: 'SecureNote', fields: [] },
];

/** A well-formed fake token whose logins and calls in the fake SDK go as `scenario` says. */
export function scenarioToken(seed: string, scenario: Scenario = {}): string {
  return mintFakeToken({ seed, overrides: { fakeSdk: { vaults: { [VAULT]: { title: 'Shared', items: ITEMS } }, ...scenario } } });
}
