// A stand-in for '@1password/sdk' at its module boundary, for the adapter's tests. The SDK worker
// loads it through the test-only `sdkModule` setting, so it is plain JavaScript (a worker thread
// cannot load TypeScript). It reproduces the real SDK's behaviour as recorded in the research note:
// plain `Error`s with the recorded messages (sdk-messages.json), `RateLimitExceededError` after
// login but a plain Error for a 429 during login, a login that never settles, a WebAssembly panic
// that no catch stops, and Dates for `updatedAt`.
//
// What a token meets travels inside the token, as an extra `fakeSdk` field (the local check allows
// unknown fields), so tests need no channel into the worker. See scenario.ts for its shape.

import { readFileSync } from 'node:fs';

const MESSAGES = JSON.parse(readFileSync(new URL('./sdk-messages.json', import.meta.url), 'utf8'));

// Like the SDK's: `name` stays "Error"; only the class tells them apart.
export class RateLimitExceededError extends Error {
  constructor(message) {
    super();
    this.message = message;
  }
}

export class AuthExpiredError extends Error {
  constructor(message) {
    super();
    this.message = message;
  }
}

// `${token}\0${operation}` → requests so far, in this worker.
const counts = new Map();

function scenarioOf(token) {
  try {
    const credentials = JSON.parse(Buffer.from(token.slice(4), 'base64').toString('utf8'));
    return credentials.fakeSdk ?? {};
  } catch {
    throw new Error(MESSAGES.login.malformed);
  }
}

const never = () => new Promise(() => {});

function fail(fault, phase) {
  switch (fault.error) {
    case 'hang':
      return never();
    case 'block':
      // An event loop that never turns again, as a runaway WebAssembly loop would leave it.
      for (;;) {}
    case 'oom': {
      const hog = [];
      for (;;) hog.push(new Array(1_000_000).fill(hog.length));
    }
    case 'panic':
      // What the real core does on an all-zero throttle seed: an uncaught RuntimeError, and a promise that never settles.
      setImmediate(() => {
        throw new WebAssembly.RuntimeError('unreachable');
      });
      return never();
    case 'rate_limit':
      throw phase === 'call' ? new RateLimitExceededError(MESSAGES.call.rate_limit) : new Error(MESSAGES.login.rate_limit);
    default: {
      const message = MESSAGES[phase][fault.error];
      if (!message) throw new Error(`fake-sdk: no recorded ${phase} message "${fault.error}"`);
      throw new Error(message);
    }
  }
}

/** One SDK request: counts it, waits the scenario's latency, and fails when a fault covers this request. */
async function request(token, scenario, operation) {
  const key = `${token}\0${operation}`;
  const n = (counts.get(key) ?? 0) + 1;
  counts.set(key, n);
  if (scenario.latencyMs) await new Promise((resolve) => setTimeout(resolve, scenario.latencyMs));
  for (const fault of scenario.faults ?? []) {
    const from = fault.from ?? 1;
    if (fault.op === operation && n >= from && n < from + (fault.times ?? Number.POSITIVE_INFINITY)) {
      return fail(fault, operation === 'login' ? 'login' : 'call');
    }
  }
}

function overviewOf(item, vaultId) {
  return {
    id: item.id,
    title: item.title,
    category: item.category ?? 'Login',
    vaultId,
    websites: (item.websites ?? []).map((w) => ({
      url: w.url,
      label: 'website',
      autofillBehavior: w.autofillBehavior ?? 'AnywhereOnWebsite',
    })),
    tags: [],
    createdAt: new Date(item.updatedAt ?? '2026-01-01T00:00:00Z'),
    updatedAt: new Date(item.updatedAt ?? '2026-01-01T00:00:00Z'),
    state: 'active',
  };
}

function vaultOf(scenario, vaultId) {
  const vault = scenario.vaults?.[vaultId];
  // onepassword-sdk-js#146: an item call on a vault the token cannot read says nothing useful.
  if (!vault) throw new Error(MESSAGES.call.untagged_invocation);
  return vault;
}

class Client {
  constructor(token, scenario) {
    this.vaults = {
      list: async () => {
        await request(token, scenario, 'vaults_list');
        return Object.entries(scenario.vaults ?? {}).map(([id, vault]) => ({
          id,
          title: vault.title ?? '',
          description: '',
          vaultType: 'userCreated',
          activeItemCount: (vault.items ?? []).length,
          contentVersion: 1,
          attributeVersion: 1,
          createdAt: new Date('2026-01-01T00:00:00Z'),
          updatedAt: new Date('2026-01-01T00:00:00Z'),
        }));
      },
    };
    this.items = {
      list: async (vaultId) => {
        await request(token, scenario, 'items_list');
        return (vaultOf(scenario, vaultId).items ?? []).map((item) => overviewOf(item, vaultId));
      },
      get: async (vaultId, itemId) => {
        await request(token, scenario, 'items_get');
        const item = (vaultOf(scenario, vaultId).items ?? []).find((i) => i.id === itemId);
        if (!item) throw new Error(MESSAGES.call.item_not_found);
        return {
          ...overviewOf(item, vaultId),
          fields: (item.fields ?? []).map((f) => ({
            id: f.id,
            title: f.title ?? f.id,
            fieldType: f.fieldType,
            value: f.value,
            // The SDK computes the current code; `value` stays the seed.
            ...(f.fieldType === 'Totp' ? { details: { type: 'Otp', content: { code: '123456' } } } : {}),
          })),
          sections: [],
          notes: '',
          version: 1,
          files: [],
        };
      },
    };
  }
}

export async function createClient(config) {
  if (!config.auth) throw new Error('createClient requires either `auth` (service account token) or `oidcFetcher` (workload identity).');
  if (!config.integrationName || !config.integrationVersion) throw new Error(MESSAGES.login.config);
  const scenario = scenarioOf(config.auth);
  await request(config.auth, scenario, 'login');
  return new Client(config.auth, scenario);
}
