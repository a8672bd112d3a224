// A SecretsProvider that answers from a JSON fixture file instead of 1Password, for tests,
// demos and benchmarks. It reproduces the contract rather than recording calls: it refuses
// malformed tokens locally, refuses revoked/expired/unknown tokens as 1Password does at login,
// and injects latency, outages and rate limits as the file's `faults` say.

import { readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { withDeadline } from '../deadline.js';
import {
  type CallOptions,
  type Item,
  type ItemOverview,
  malformedTokenError,
  providerError,
  type SecretsProvider,
  type TokenInput,
} from '../provider.js';
import { resolveToken, tokenParser } from '../service-token.js';
import { type Fixture, FixtureFormatError, type FixtureItem, type FixtureVault, parseFixture } from './fixture-file.js';
import { checkTokenFormat } from './token-format.js';

export interface FixtureProviderOptions {
  path: string;
  /** Deadline of a call when CallOptions.deadlineMs is not given. */
  defaultDeadlineMs?: number;
  /** Told when a changed file cannot be used; messages never quote the file. */
  onWarning?: (message: string) => void;
}

const DEFAULT_DEADLINE_MS = 10_000;
const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
};
const RATE_LIMIT_RETRY_AFTER_SECONDS = 60;
// The item categories that can hold a login, as the SDK backend lists them.
const LOGIN_CATEGORIES = new Set(['Login', 'Password']);
// File timestamps are coarse (a few ms), so two writes can leave the same stamp. For a while
// after a write the contents are compared too, like git's "racily clean" check.
const RACY_WINDOW_NS = 2_000_000_000n;

function overviewOf(item: FixtureItem): ItemOverview {
  return {
    id: item.id,
    title: item.title,
    category: item.category,
    updatedAt: item.updatedAt,
    websites: item.websites.map((w) => ({ url: w.url, autofill: w.autofill })),
  };
}

function itemOf(item: FixtureItem): Item {
  return {
    ...overviewOf(item),
    fields: item.fields.map((f) => ({ id: f.id, label: f.label, kind: f.type, value: f.value })),
  };
}

const parseToken = tokenParser(checkTokenFormat);

function vaultFor(fixture: Fixture, token: string, vaultId: string): FixtureVault {
  const entry = fixture.tokens.get(token);
  if (entry?.state !== 'active') throw providerError('token_rejected');
  const vault = entry.vaults.includes(vaultId) ? fixture.vaults.get(vaultId) : undefined;
  if (!vault) throw providerError('vault_inaccessible');
  return vault;
}

/** Reads the fixture at once (throwing if it is unusable) and re-reads it whenever it changes. */
export function createFixtureProvider(options: FixtureProviderOptions): SecretsProvider {
  const { path, defaultDeadlineMs = DEFAULT_DEADLINE_MS, onWarning = () => {} } = options;

  let stamp = '';
  let text = '';
  let fixture = load();
  // Calls that reached the fixture since start-up or the last change of the file.
  let calls = 0;

  function load(): Fixture {
    try {
      const stat = statSync(path, { bigint: true });
      stamp = `${stat.ino}:${stat.size}:${stat.mtimeNs}`;
      text = readFileSync(path, 'utf8');
      const loaded = parseFixture(text);
      warnAboutTokens(loaded);
      return loaded;
    } catch (err) {
      // fs and parseFixture messages name the path or the place in the file, never its contents.
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const reason = err instanceof FixtureFormatError ? err.message : (FILE_ERRORS[code] ?? (code || 'unreadable'));
      throw new Error(`cannot use the 1Password fixture file ${path} (SESAME_ONEPASSWORD_FIXTURE): ${reason}`);
    }
  }

  function warnAboutTokens(loaded: Fixture): void {
    [...loaded.tokens.keys()].forEach((token, i) => {
      const check = checkTokenFormat(token);
      if (!check.ok)
        onWarning(`1Password fixture: token entry ${i + 1} is not a well-formed token (${check.reason}); calls with it are refused`);
    });
  }

  // Cheap enough for every call: one stat, plus a read only when the file changed (or just did).
  function refresh(): void {
    let next: string;
    let nextText: string;
    try {
      const stat = statSync(path, { bigint: true });
      next = `${stat.ino}:${stat.size}:${stat.mtimeNs}`;
      const racy = BigInt(Date.now()) * 1_000_000n - stat.mtimeNs < RACY_WINDOW_NS;
      if (next === stamp && !racy) return;
      nextText = readFileSync(path, 'utf8');
    } catch {
      if (stamp !== 'unreadable') onWarning('1Password fixture: the file cannot be read; keeping the last good version');
      stamp = 'unreadable';
      return;
    }
    if (next === stamp && nextText === text) return;
    stamp = next;
    text = nextText;
    try {
      fixture = parseFixture(nextText);
    } catch (err) {
      // parseFixture's messages are safe to log; anything else is reported without detail.
      const reason = err instanceof FixtureFormatError ? err.message : 'unreadable';
      onWarning(`1Password fixture: ignoring the changed file (${reason}); keeping the last good version`);
      return;
    }
    calls = 0;
    warnAboutTokens(fixture);
  }

  async function call<T>(
    input: TokenInput,
    callOptions: CallOptions | undefined,
    answer: (fixture: Fixture, token: string) => T,
  ): Promise<T> {
    // A malformed token never reaches "1Password" and so costs nothing from its budget.
    const token = resolveToken(input, parseToken, malformedTokenError).secret;

    refresh();
    const current = fixture;
    const { latencyMs, unavailable, rateLimitAfter } = current.faults;
    // An unreachable service counts no requests.
    const callNumber = unavailable ? calls : ++calls;

    // Only injected latency needs a controller (aborting one costs a DOMException on every call).
    const stopLatency = latencyMs > 0 ? new AbortController() : undefined;
    const work = (async () => {
      if (stopLatency) await sleep(latencyMs, undefined, { signal: stopLatency.signal });
      if (unavailable) throw providerError('unavailable');
      if (rateLimitAfter !== null && callNumber > rateLimitAfter) throw providerError('rate_limited', RATE_LIMIT_RETRY_AFTER_SECONDS);
      return answer(current, token);
    })();
    try {
      return await withDeadline(work, callOptions?.deadlineMs ?? defaultDeadlineMs);
    } finally {
      // Clears the latency timer when the deadline fired first.
      stopLatency?.abort();
    }
  }

  return {
    parseToken,

    async checkVaultAccess(input, vaultId, callOptions) {
      await call(input, callOptions, (fx, token) => vaultFor(fx, token, vaultId));
    },

    listItems(input, vaultId, callOptions) {
      return call(input, callOptions, (fx, token) =>
        vaultFor(fx, token, vaultId)
          .items.filter((item) => LOGIN_CATEGORIES.has(item.category))
          .map(overviewOf),
      );
    },

    getItem(input, vaultId, itemId, callOptions) {
      return call(input, callOptions, (fx, token) => {
        const item = vaultFor(fx, token, vaultId).items.find((i) => i.id === itemId);
        if (!item) throw providerError('item_not_found');
        return itemOf(item);
      });
    },

    // The fixture keeps no per-token state.
    forgetToken() {},

    // No watcher or timer outlives a call.
    async close() {},
  };
}
