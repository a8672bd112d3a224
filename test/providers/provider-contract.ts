// The SecretsProvider contract, as a suite any implementation can run: the fixture backend
// always, real 1Password when credentials are given (onepassword-live.test.ts).
// It asserts only what every backend must do, so it needs nothing but one readable vault.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError, type ProviderErrorKind, type SecretsProvider } from '../../src/providers/provider.js';

export interface ContractSubject {
  provider: SecretsProvider;
  /** A token the provider accepts, which can read `vaultId`. */
  token: string;
  vaultId: string;
  /** A vault id that token cannot read. */
  otherVaultId: string;
  /** A well-formed token the provider refuses; omitted where none can be produced safely. */
  refusedToken?: string;
  /** Deadline to give each call, in ms (a real provider needs more). */
  deadlineMs: number;
  cleanup?: () => Promise<void> | void;
}

const MALFORMED = ['not-a-token', 'ops_', 'ops_%%%'];
const AUTOFILL = ['AnywhereOnWebsite', 'ExactDomain', 'Never'];
const KINDS = ['text', 'concealed', 'totp'];
// Item ids are 26 lowercase base32 characters; this one is never issued.
const UNKNOWN_ITEM_ID = 'zzzzzzzzzzzzzzzzzzzzzzzzzz';

/** Awaits `promise` and returns the ProviderError it rejects with (failing if it resolves or rejects otherwise). */
export async function providerErrorOf(promise: Promise<unknown>): Promise<ProviderError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ProviderError))
    throw new Error(`expected a ProviderError, got ${err === undefined ? 'success' : String((err as Error)?.name)}`);
  return err;
}

export async function expectKind(promise: Promise<unknown>, kind: ProviderErrorKind): Promise<ProviderError> {
  const err = await providerErrorOf(promise);
  expect(err.kind).toBe(kind);
  return err;
}

export function describeProviderContract(name: string, makeSubject: () => Promise<ContractSubject> | ContractSubject): void {
  describe(`SecretsProvider contract: ${name}`, () => {
    let s: ContractSubject;
    const opts = () => ({ deadlineMs: s.deadlineMs });

    beforeAll(async () => {
      s = await makeSubject();
    });
    afterAll(async () => {
      await s?.provider.close();
      await s?.cleanup?.();
    });

    it('checks token shape locally', () => {
      expect(s.provider.parseToken(s.token)).toMatchObject({ ok: true });
      for (const token of MALFORMED) {
        const result = s.provider.parseToken(token);
        expect(result.ok).toBe(false);
      }
    });

    it('refuses a malformed token with token_malformed on every call', async () => {
      for (const token of MALFORMED) {
        await expectKind(s.provider.checkVaultAccess(token, s.vaultId, opts()), 'token_malformed');
        await expectKind(s.provider.listItems(token, s.vaultId, opts()), 'token_malformed');
        await expectKind(s.provider.getItem(token, s.vaultId, UNKNOWN_ITEM_ID, opts()), 'token_malformed');
      }
    });

    it('grants access to a readable vault', async () => {
      await expect(s.provider.checkVaultAccess(s.token, s.vaultId, opts())).resolves.toBeUndefined();
    });

    it('says vault_inaccessible for a vault the token cannot read', async () => {
      await expectKind(s.provider.checkVaultAccess(s.token, s.otherVaultId, opts()), 'vault_inaccessible');
      await expectKind(s.provider.listItems(s.token, s.otherVaultId, opts()), 'vault_inaccessible');
      await expectKind(s.provider.getItem(s.token, s.otherVaultId, UNKNOWN_ITEM_ID, opts()), 'vault_inaccessible');
    });

    it('says token_rejected for a well-formed token it refuses', async (ctx) => {
      if (!s.refusedToken) ctx.skip();
      const token = s.refusedToken as string;
      const err = await expectKind(s.provider.checkVaultAccess(token, s.vaultId, opts()), 'token_rejected');
      expect(err.retryable).toBe(false);
      await expectKind(s.provider.listItems(token, s.vaultId, opts()), 'token_rejected');
    });

    it('lists login items as metadata only', async () => {
      const items = await s.provider.listItems(s.token, s.vaultId, opts());
      for (const item of items) {
        expect(Object.keys(item).sort()).toEqual(['category', 'id', 'title', 'updatedAt', 'websites']);
        expect(['Login', 'Password']).toContain(item.category);
        expect(new Date(item.updatedAt).toISOString()).toBe(item.updatedAt);
        for (const w of item.websites) {
          expect(typeof w.url).toBe('string');
          expect(AUTOFILL).toContain(w.autofill);
        }
      }
    });

    it('reads a listed item with its fields', async (ctx) => {
      const [first] = await s.provider.listItems(s.token, s.vaultId, opts());
      if (!first) return ctx.skip();
      const item = await s.provider.getItem(s.token, s.vaultId, first.id, opts());
      expect(item).toMatchObject({ id: first.id, title: first.title, category: first.category, updatedAt: first.updatedAt });
      for (const field of item.fields) {
        expect(KINDS).toContain(field.kind);
        expect(typeof field.id).toBe('string');
        expect(typeof field.label).toBe('string');
        expect(typeof field.value).toBe('string');
      }
    });

    it('says item_not_found for an item that does not exist', async () => {
      await expectKind(s.provider.getItem(s.token, s.vaultId, UNKNOWN_ITEM_ID, opts()), 'item_not_found');
    });

    it('works again after forgetToken', async () => {
      s.provider.forgetToken(s.token);
      await expect(s.provider.checkVaultAccess(s.token, s.vaultId, opts())).resolves.toBeUndefined();
    });

    it('never puts the token into an error message', async () => {
      const errors = [
        await providerErrorOf(s.provider.checkVaultAccess(s.token, s.otherVaultId, opts())),
        await providerErrorOf(s.provider.getItem(s.token, s.vaultId, UNKNOWN_ITEM_ID, opts())),
        await providerErrorOf(s.provider.checkVaultAccess(`${s.token}!`, s.vaultId, opts())),
      ];
      if (s.refusedToken) errors.push(await providerErrorOf(s.provider.checkVaultAccess(s.refusedToken, s.vaultId, opts())));
      for (const err of errors) {
        const text = `${err.message} ${err.stack ?? ''}`;
        for (const token of [s.token, s.refusedToken].filter((t): t is string => !!t)) {
          for (let i = 4; i + 16 <= token.length; i += 8) expect(text.includes(token.slice(i, i + 16))).toBe(false);
        }
      }
    });
  });
}
