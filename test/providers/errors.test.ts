import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as sdk from '@1password/sdk';
import { describe, expect, it } from 'vitest';
import { withDeadline } from '../../src/providers/deadline.js';
import {
  classifySdkError,
  PROVIDER_ERROR_MESSAGES,
  SDK_ERROR_CLASSES,
  SDK_ERROR_RULES,
  type SdkPhase,
} from '../../src/providers/onepassword/errors.js';
import { PROVIDER_ERROR_KINDS, ProviderError, type ProviderErrorKind } from '../../src/providers/provider.js';
import { providerErrorOf } from './provider-contract.js';

// Messages recorded from @1password/sdk 0.5.0 (research note §2.1, §2.2, §3.2) and the kind each must become.
const RECORDED: [message: string, phase: SdkPhase, kind: ProviderErrorKind][] = [
  // §2.1: the SDK's own token parsing
  ['invalid user input: encountered the following errors: service account token had invalid format', 'login', 'token_malformed'],
  [
    'invalid service account token, please make sure you provide a valid service account token as parameter:  service account token base64 decoding failed, please create another token',
    'login',
    'token_malformed',
  ],
  [
    'invalid service account token, please make sure you provide a valid service account token as parameter:  service account deserialization failed, please create another token',
    'login',
    'token_malformed',
  ],
  ['createClient requires either `auth` (service account token) or `oidcFetcher` (workload identity).', 'login', 'token_malformed'],
  [
    'authentication error: request library compatibility issue, check that the your environment uses compatible versions: reqwest library: error sending request',
    'login',
    'unavailable',
  ],
  ['data did not match any variant of untagged enum ClientConfig', 'login', 'internal'],
  // §2.2: answers to auth/start
  ['authentication error: you are not authenticated', 'login', 'token_rejected'],
  ["authentication error: you don't have the right permissions to access this resource", 'login', 'token_rejected'],
  ['authentication error: resource not found', 'login', 'token_rejected'],
  [
    'authentication error: a conflict occurred on the server. this usually happens due to a race condition in requests',
    'login',
    'unavailable',
  ],
  ['authentication error: rate limit exceeded', 'login', 'rate_limited'],
  ['authentication error: internal server error', 'login', 'unavailable'],
  ['authentication error: unexpected status code in response: 503 Service Unavailable', 'login', 'unavailable'],
  ['authentication error: unexpected status code in response: 502 Bad Gateway', 'login', 'unavailable'],
  ['authentication error: when deserializing HTTP responses: <redacted json data error>', 'login', 'internal'],
  [
    'authentication error: bad service account token, please rotate it: invalid user auth parameters within token',
    'login',
    'token_rejected',
  ],
  // §3.2: substrings of the core's messages after login
  ["error retrieving item: item couldn't be found", 'call', 'item_not_found'],
  ["vault couldn't be found", 'call', 'vault_inaccessible'],
  ['the provided ID does not correspond to a vault', 'call', 'vault_inaccessible'],
  ['you do not have the right permissions to perform this action: read items', 'call', 'vault_inaccessible'],
  ["you don't have the right permissions to access this resource", 'call', 'vault_inaccessible'],
  ['you are not authenticated', 'call', 'token_rejected'],
  ['session expired', 'call', 'token_rejected'],
  ['session seems expired even after retrying', 'call', 'token_rejected'],
  ['bad credentials, please retry: srp verification failed', 'login', 'token_rejected'],
  ["account couldn't be found", 'login', 'token_rejected'],
  ['rate limit exceeded', 'call', 'rate_limited'],
  ['request timeout', 'call', 'unavailable'],
  ['internal server error', 'call', 'unavailable'],
  ['unexpected status code in response: 500 Internal Server Error', 'call', 'unavailable'],
  ['reqwest library: error sending request', 'call', 'unavailable'],
  ['you can only retrieve up to 50 items at once', 'call', 'internal'],
  [
    'an internal error occurred, please contact 1Password at support@1password.com or https://developer.1password.com/joinslack: invalid client id',
    'call',
    'internal',
  ],
  // onepassword-sdk-js#146: no reliable meaning; the SDK backend disambiguates with vaults.list
  ['data did not match any variant of untagged enum Invocation at line 1 column 152', 'call', 'internal'],
  ['error when retrieving vault metadata: http error: unexpected http status: 401 Unauthorized', 'call', 'internal'],
];

// Named like the SDK's classes, which keep `name === "Error"`.
class RateLimitExceededError extends Error {}
class AuthExpiredError extends Error {}

describe('classifySdkError', () => {
  it.each(RECORDED)('%s (%s) → %s', (message, phase, kind) => {
    const err = classifySdkError(new Error(message), phase);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.kind).toBe(kind);
    expect(err.message).toBe(PROVIDER_ERROR_MESSAGES[kind]);
  });

  it('never carries the SDK message', () => {
    const secret = 'ops_eyJzaWduSW5BZGRyZXNzIjoiZXhhbXBsZSJ9 hunter2';
    for (const [message, phase] of RECORDED) {
      const err = classifySdkError(new Error(`${message} ${secret}`), phase);
      expect(err.message.includes(secret)).toBe(false);
      expect(err.message.includes(message)).toBe(false);
      expect(err.stack?.includes(secret)).toBe(false);
    }
  });

  it('classifies the SDK error classes by name', () => {
    expect(classifySdkError(new RateLimitExceededError('whatever'), 'call').kind).toBe('rate_limited');
    expect(classifySdkError(new AuthExpiredError('whatever'), 'call').kind).toBe('token_rejected');
  });

  it('calls anything unknown internal', () => {
    expect(classifySdkError(new Error('something new'), 'call').kind).toBe('internal');
    expect(classifySdkError(new TypeError('x is not a function'), 'login').kind).toBe('internal');
    expect(classifySdkError(Object.assign(new Error('unreachable'), { name: 'RuntimeError' }), 'login').kind).toBe('internal');
    expect(classifySdkError(undefined, 'call').kind).toBe('internal');
    expect(classifySdkError(null, 'call').kind).toBe('internal');
    expect(classifySdkError('{"type":"parse"}', 'call').kind).toBe('internal');
  });

  it('passes a ProviderError through unchanged', () => {
    const timeout = new ProviderError('timeout', 'deadline');
    expect(classifySdkError(timeout, 'login')).toBe(timeout);
  });

  it('has only lower-case substrings, each reachable in some phase', () => {
    for (const rule of SDK_ERROR_RULES) {
      expect(rule.substring).toBe(rule.substring.toLowerCase());
      const phases: SdkPhase[] = rule.phase ? [rule.phase] : ['login', 'call'];
      expect(phases.some((p) => classifySdkError(new Error(rule.substring), p).kind === rule.kind)).toBe(true);
    }
  });
});

describe('withDeadline', () => {
  it('passes a result or an error through and clears its timer', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await expect(withDeadline(Promise.resolve(7), 1000)).resolves.toBe(7);
    await expect(withDeadline(Promise.reject(new Error('boom')), 1000)).rejects.toThrow('boom');
    // A timer left behind would keep the process alive until the deadline.
    expect(timers()).toBe(before);
  });

  it('rejects with timeout at the deadline when the work never settles', async () => {
    const started = performance.now();
    const err = await providerErrorOf(withDeadline(new Promise(() => {}), 50));
    expect(err.kind).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(50 + 100);
  });

  it('ignores a late failure of the work', async () => {
    const late = new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 30));
    await expect(withDeadline(late, 5)).rejects.toMatchObject({ kind: 'timeout' });
    // A late rejection must not surface as unhandled (vitest fails the run if it does).
    await new Promise((r) => setTimeout(r, 40));
  });
});

// The classifier relies on the SDK's wording, which is not a stable API. These tests read the
// installed package, so an upgrade that rewords a message, renames a class or changes the pinned
// version fails here, loudly, instead of silently turning refusals into `internal`.
describe('the installed SDK still says what the classifier expects', () => {
  const require = createRequire(import.meta.url);
  const sdkEntry = require.resolve('@1password/sdk');
  const sdkRoot = dirname(dirname(sdkEntry));
  const coreRoot = dirname(dirname(createRequire(sdkEntry).resolve('@1password/sdk-core')));
  const version = (root: string) => (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

  /** Every file of both packages, as latin1 text: the core's messages live inside its WebAssembly binary. */
  function packageText(): string {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : /\.(js|wasm)$/.test(e.name) ? [join(dir, e.name)] : [],
      );
    return [...files(sdkRoot), ...files(coreRoot)]
      .map((f) => readFileSync(f).toString('latin1'))
      .join('\n')
      .toLowerCase();
  }

  it('is the pinned version the messages were recorded from', () => {
    const pinned = (
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }
    ).dependencies['@1password/sdk'];
    // An exact version, never a range: messages change between releases.
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(version(sdkRoot)).toBe(pinned);
    expect(version(coreRoot)).toBe(pinned);
  });

  it('contains every substring the classifier matches', () => {
    const text = packageText();
    // The core composes some messages ("authentication error: " + reason): each part must be there.
    const missing = SDK_ERROR_RULES.map((r) => r.substring).filter(
      (substring) => !substring.split(': ').every((part) => text.includes(part)),
    );
    expect(missing).toEqual([]);
  });

  it('exports the error classes the classifier recognises by name', () => {
    for (const name of Object.keys(SDK_ERROR_CLASSES)) {
      const exported = (sdk as Record<string, unknown>)[name];
      expect(typeof exported).toBe('function');
      expect((exported as { name: string }).name).toBe(name);
    }
  });
});

describe('the fake SDK (sdk/fake-sdk.mjs)', () => {
  it('throws only messages recorded from the real SDK', () => {
    const messages = JSON.parse(readFileSync(new URL('./sdk/sdk-messages.json', import.meta.url), 'utf8')) as Record<
      SdkPhase,
      Record<string, string>
    >;
    const recorded = new Set(RECORDED.map(([message, phase]) => `${phase}:${message}`));
    for (const phase of ['login', 'call'] as const) {
      for (const message of Object.values(messages[phase])) expect(recorded.has(`${phase}:${message}`), message).toBe(true);
    }
  });
});

describe('PROVIDER_ERROR_KINDS', () => {
  it('lists every kind once', () => {
    expect([...PROVIDER_ERROR_KINDS].sort()).toEqual(Object.keys(PROVIDER_ERROR_MESSAGES).sort());
  });
});
