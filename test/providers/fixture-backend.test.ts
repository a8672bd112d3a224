import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProvider } from '../../src/providers/index.js';
import { mintFakeToken } from '../../src/providers/onepassword/fake-token.js';
import { createFixtureProvider } from '../../src/providers/onepassword/fixture-backend.js';
import type { SecretsProvider } from '../../src/providers/provider.js';
import { describeProviderContract, expectKind } from './provider-contract.js';

const TOKEN = mintFakeToken({ seed: 'fixture-active' });
const REVOKED = mintFakeToken({ seed: 'fixture-revoked' });
const EXPIRED = mintFakeToken({ seed: 'fixture-expired' });
const UNKNOWN = mintFakeToken({ seed: 'fixture-unknown' });
const VAULT = 'v5pz6venw4roosmkzdq2nhpv6u';
const OTHER_VAULT = 'bbbbbbbbbbbbbbbbbbbbbbbbbb';
// Listed for the token but absent from "vaults".
const GHOST_VAULT = 'gggggggggggggggggggggggggg';
const PASSWORD = 'correct horse battery staple';
const TOTP_URI = 'otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&period=30&digits=6';

type Faults = { latency_ms?: number; unavailable?: boolean; rate_limit_after?: number | null };

function fixtureJson(options: { tokenState?: string; extraItems?: unknown[]; faults?: Faults } = {}) {
  return {
    tokens: {
      [TOKEN]: { vaults: [VAULT, GHOST_VAULT], state: options.tokenState ?? 'active' },
      [REVOKED]: { vaults: [VAULT], state: 'revoked' },
      [EXPIRED]: { vaults: [VAULT], state: 'expired' },
    },
    vaults: {
      [VAULT]: {
        title: 'Shared logins',
        items: [
          {
            id: 'exampleloginitem0000000000',
            title: 'Example',
            category: 'Login',
            updated_at: '2026-01-01T00:00:00Z',
            websites: [{ url: 'https://example.com/login', autofill: 'AnywhereOnWebsite' }, { url: 'https://admin.example.com' }],
            fields: [
              { id: 'username', type: 'text', label: 'username', value: 'alice' },
              { id: 'password', type: 'concealed', label: 'password', value: PASSWORD },
              { id: 'otp', type: 'totp', label: 'one-time password', value: TOTP_URI },
            ],
          },
          {
            id: 'passworditem00000000000000',
            title: 'Router',
            category: 'Password',
            updated_at: '2026-02-03T04:05:06.789Z',
            websites: [{ url: 'http://192.168.1.1:8080', autofill: 'ExactDomain' }],
            fields: [{ id: 'password', type: 'concealed', value: 'hunter2' }],
          },
          { id: 'secureNote0000000000000000', title: 'Notes', category: 'SecureNote', updated_at: '2026-01-01T00:00:00Z', fields: [] },
          ...(options.extraItems ?? []),
        ],
      },
      [OTHER_VAULT]: { title: 'Elsewhere', items: [] },
    },
    faults: { latency_ms: 0, unavailable: false, rate_limit_after: null, ...options.faults },
  };
}

function tempFixture(content: unknown): { path: string; write(content: unknown): void; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-fixture-'));
  const path = join(dir, 'fixture.json');
  // Rewritten in place, as a test or an operator would: the same inode, possibly the same size and timestamp.
  const write = (c: unknown) => writeFileSync(path, typeof c === 'string' ? c : JSON.stringify(c, null, 2));
  write(content);
  return { path, write, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

describeProviderContract('fixture backend', () => {
  const file = tempFixture(fixtureJson());
  return {
    provider: createFixtureProvider({ path: file.path }),
    token: TOKEN,
    vaultId: VAULT,
    otherVaultId: OTHER_VAULT,
    refusedToken: UNKNOWN,
    deadlineMs: 1000,
    cleanup: file.remove,
  };
});

describe('fixture backend', () => {
  let file: ReturnType<typeof tempFixture>;
  let provider: SecretsProvider;
  let warnings: string[];

  function start(content: unknown = fixtureJson(), defaultDeadlineMs?: number) {
    file = tempFixture(content);
    warnings = [];
    provider = createFixtureProvider({ path: file.path, defaultDeadlineMs, onWarning: (m) => warnings.push(m) });
  }

  beforeEach(() => start());
  afterEach(async () => {
    await provider.close();
    file.remove();
  });

  it('maps items and fields', async () => {
    const items = await provider.listItems(TOKEN, VAULT);
    expect(items).toEqual([
      {
        id: 'exampleloginitem0000000000',
        title: 'Example',
        category: 'Login',
        updatedAt: '2026-01-01T00:00:00.000Z',
        websites: [
          { url: 'https://example.com/login', autofill: 'AnywhereOnWebsite' },
          { url: 'https://admin.example.com', autofill: 'AnywhereOnWebsite' },
        ],
      },
      {
        id: 'passworditem00000000000000',
        title: 'Router',
        category: 'Password',
        updatedAt: '2026-02-03T04:05:06.789Z',
        websites: [{ url: 'http://192.168.1.1:8080', autofill: 'ExactDomain' }],
      },
    ]);
    const item = await provider.getItem(TOKEN, VAULT, 'exampleloginitem0000000000');
    expect(item.fields).toEqual([
      { id: 'username', label: 'username', kind: 'text', value: 'alice' },
      { id: 'password', label: 'password', kind: 'concealed', value: PASSWORD },
      { id: 'otp', label: 'one-time password', kind: 'totp', value: TOTP_URI },
    ]);
    // A field without a label is labelled by its id; getItem reads any category.
    expect((await provider.getItem(TOKEN, VAULT, 'passworditem00000000000000')).fields[0]?.label).toBe('password');
    expect((await provider.getItem(TOKEN, VAULT, 'secureNote0000000000000000')).category).toBe('SecureNote');
  });

  it('refuses revoked, expired and unknown tokens as 1Password does at login', async () => {
    for (const token of [REVOKED, EXPIRED, UNKNOWN]) {
      await expectKind(provider.checkVaultAccess(token, VAULT), 'token_rejected');
      await expectKind(provider.getItem(token, VAULT, 'exampleloginitem0000000000'), 'token_rejected');
    }
  });

  it('treats a vault listed for the token but missing from the file as inaccessible', async () => {
    await expectKind(provider.checkVaultAccess(TOKEN, GHOST_VAULT), 'vault_inaccessible');
  });

  it('sees a revoked token on the very next call after the file changes', async () => {
    await provider.checkVaultAccess(TOKEN, VAULT);
    file.write(fixtureJson({ tokenState: 'revoked' }));
    await expectKind(provider.checkVaultAccess(TOKEN, VAULT), 'token_rejected');
    file.write(fixtureJson({ tokenState: 'active' }));
    await expect(provider.checkVaultAccess(TOKEN, VAULT)).resolves.toBeUndefined();
  });

  it('sees a change that keeps the size and the timestamp', async () => {
    // The token's first vault swapped for another id of the same length, written within the same clock tick.
    await expect(provider.checkVaultAccess(TOKEN, VAULT)).resolves.toBeUndefined();
    file.write(JSON.stringify(fixtureJson(), null, 2).replace(VAULT, OTHER_VAULT));
    await expectKind(provider.checkVaultAccess(TOKEN, VAULT), 'vault_inaccessible');
    await expect(provider.checkVaultAccess(TOKEN, OTHER_VAULT)).resolves.toBeUndefined();
  });

  it('sees an added item on the next call', async () => {
    const added = { id: 'addeditem00000000000000000', title: 'Added', category: 'Login', updated_at: '2026-03-01T00:00:00Z' };
    file.write(fixtureJson({ extraItems: [added] }));
    expect((await provider.listItems(TOKEN, VAULT)).map((i) => i.id)).toContain(added.id);
    await expect(provider.getItem(TOKEN, VAULT, added.id)).resolves.toMatchObject({ title: 'Added', fields: [], websites: [] });
  });

  it('keeps the last good fixture when the file turns bad, and warns without quoting it', async () => {
    file.write(`{"tokens": {"${TOKEN}": `);
    await expect(provider.checkVaultAccess(TOKEN, VAULT)).resolves.toBeUndefined();
    file.write({ ...fixtureJson(), tokens: { [TOKEN]: { vaults: VAULT, state: 'active' } } });
    await expect(provider.checkVaultAccess(TOKEN, VAULT)).resolves.toBeUndefined();
    expect(warnings).toEqual([
      '1Password fixture: ignoring the changed file (the file is not valid JSON); keeping the last good version',
      '1Password fixture: ignoring the changed file (tokens (entry 1).vaults: expected an array); keeping the last good version',
    ]);
    file.remove();
    await expect(provider.checkVaultAccess(TOKEN, VAULT)).resolves.toBeUndefined();
    expect(warnings).toHaveLength(3);
    for (const w of warnings) expect(w.includes(TOKEN.slice(4, 20))).toBe(false);
  });

  it('refuses to start on a missing or unusable file, naming the file and its first problem', () => {
    const missing = join(tmpdir(), 'no-such-sesame-fixture.json');
    expect(() => createFixtureProvider({ path: missing })).toThrow(
      `cannot use the 1Password fixture file ${missing} (SESAME_ONEPASSWORD_FIXTURE): no such file`,
    );
    for (const [content, problem] of [
      [{ tokens: [] }, 'tokens: expected an object'],
      [{ token: {} }, "the file: unexpected key 'token' (expected only tokens, vaults, faults)"],
      [{ tokens: { [TOKEN]: { vault: [VAULT] } } }, "tokens (entry 1): unexpected key 'vault' (expected only state, vaults)"],
      [{ faults: { latency: 100 } }, "faults: unexpected key 'latency' (expected only latency_ms, unavailable, rate_limit_after)"],
      [
        { vaults: { v: { items: [{ id: 'i', title: 't', fields: [{ id: 'p', type: 'secret', value: 'x' }] }] } } },
        'vaults["v"].items[0].fields[0].type: expected one of text, concealed, totp',
      ],
      [{ faults: { [TOKEN]: 1 } }, 'faults: unexpected key (expected only latency_ms, unavailable, rate_limit_after)'],
    ] as const) {
      const bad = tempFixture(content);
      try {
        expect(() => createFixtureProvider({ path: bad.path })).toThrow(
          `cannot use the 1Password fixture file ${bad.path} (SESAME_ONEPASSWORD_FIXTURE): ${problem}`,
        );
      } finally {
        bad.remove();
      }
    }
  });

  it('warns about a listed token that is not well-formed, by position only', () => {
    const badToken = `${mintFakeToken({ seed: 'x' })}=`;
    const content = fixtureJson();
    start({ ...content, tokens: { ...content.tokens, [badToken]: { vaults: [VAULT] } } });
    expect(warnings).toEqual([
      '1Password fixture: token entry 4 is not a well-formed token (payload is not valid base64); calls with it are refused',
    ]);
  });

  it('fails every call as unavailable when told to', async () => {
    file.write(fixtureJson({ faults: { unavailable: true } }));
    const err = await expectKind(provider.listItems(TOKEN, VAULT), 'unavailable');
    expect(err.retryable).toBe(true);
  });

  it('rate-limits after N calls, counted again from the last change of the file', async () => {
    file.write(fixtureJson({ faults: { rate_limit_after: 2 } }));
    await provider.checkVaultAccess(TOKEN, VAULT);
    await expectKind(provider.checkVaultAccess(REVOKED, VAULT), 'token_rejected');
    const err = await expectKind(provider.listItems(TOKEN, VAULT), 'rate_limited');
    expect(err.retryAfterSeconds).toBe(60);
    expect(err.retryable).toBe(true);
    await expectKind(provider.checkVaultAccess(TOKEN, VAULT), 'rate_limited');

    file.write(fixtureJson({ faults: { rate_limit_after: 1 } }));
    await provider.checkVaultAccess(TOKEN, VAULT);
    await expectKind(provider.checkVaultAccess(TOKEN, VAULT), 'rate_limited');
  });

  it('does not count malformed tokens toward the rate limit', async () => {
    file.write(fixtureJson({ faults: { rate_limit_after: 1 } }));
    for (let i = 0; i < 5; i++) await expectKind(provider.checkVaultAccess('ops_not!a!token', VAULT), 'token_malformed');
    await expect(provider.checkVaultAccess(TOKEN, VAULT)).resolves.toBeUndefined();
    await expectKind(provider.checkVaultAccess(TOKEN, VAULT), 'rate_limited');
  });

  it('delays calls by latency_ms', async () => {
    file.write(fixtureJson({ faults: { latency_ms: 120 } }));
    const started = performance.now();
    await provider.checkVaultAccess(TOKEN, VAULT);
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
  });

  it('times out at the deadline when latency exceeds it, without waiting for the latency', async () => {
    file.write(fixtureJson({ faults: { latency_ms: 5000 } }));
    const started = performance.now();
    const err = await expectKind(provider.listItems(TOKEN, VAULT, { deadlineMs: 100 }), 'timeout');
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(100 + 150);
    expect(err.retryable).toBe(true);
  });

  it('uses its default deadline when the call gives none', async () => {
    start(fixtureJson({ faults: { latency_ms: 5000 } }), 80);
    const started = performance.now();
    await expectKind(provider.checkVaultAccess(TOKEN, VAULT), 'timeout');
    expect(performance.now() - started).toBeLessThan(80 + 150);
  });

  it('refuses a malformed token at once, before latency and faults', async () => {
    file.write(fixtureJson({ faults: { latency_ms: 5000, unavailable: true } }));
    const started = performance.now();
    const err = await expectKind(provider.getItem(` ${TOKEN}`, VAULT, 'x'), 'token_malformed');
    expect(performance.now() - started).toBeLessThan(50);
    expect(err.message).toContain('missing ops_ prefix');
  });

  it('is what createProvider returns when a fixture path is set', async () => {
    const fromRegistry = createProvider({ fixturePath: file.path, loginDeadlineMs: 1000, callDeadlineMs: 1000, version: 'test' });
    await expect(fromRegistry.listItems(TOKEN, VAULT)).resolves.toHaveLength(2);
    await fromRegistry.close();
  });
});
