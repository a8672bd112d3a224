// The vault service's rules from plain objects: an in-memory repository, a scripted provider, a
// real envelope. No database, no HTTP: what a domain error says is checked by code, not by status.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createEnvelope } from '../../crypto/envelope.js';
import { parseMasterKeys } from '../../crypto/keyring.js';
import type { AuditEventsTable } from '../../db/schema.js';
import { DomainError, type ErrorCode } from '../../errors.js';
import { type ProviderErrorKind, providerError, type SecretsProvider, type TokenInput } from '../../providers/provider.js';
import { tokenParser } from '../../providers/service-token.js';
import type { Caller } from '../auth/caller.js';
import type { RowVersion, VaultRepo, VaultRow, WriteResult } from './vaults.repo.js';
import { createVaultService } from './vaults.service.js';

const TOKEN = `ops_${Buffer.from('{"fake":"token"}').toString('base64')}`;
const OTHER_TOKEN = `ops_${Buffer.from('{"fake":"other"}').toString('base64')}`;
const caller: Caller = { orgId: '11111111-1111-4111-8111-111111111111', credential: { type: 'api_key', id: 'key-1' } };

/** A provider whose answers the test scripts: per op_vault_id, `ok` or the kind it fails with. */
function scriptedProvider() {
  const answers = new Map<string, 'ok' | ProviderErrorKind>();
  const calls: { token: string; vaultId: string }[] = [];
  const forgotten: string[] = [];
  const provider: SecretsProvider = {
    parseToken: tokenParser((token) => (token.startsWith('ops_') ? { ok: true } : { ok: false, reason: 'missing ops_ prefix' })),
    async checkVaultAccess(token: TokenInput, vaultId: string) {
      calls.push({ token: typeof token === 'string' ? token : token.secret, vaultId });
      const answer = answers.get(vaultId) ?? 'ok';
      if (answer !== 'ok') throw providerError(answer, answer === 'rate_limited' ? 30 : undefined);
    },
    listItems: async () => [],
    getItem: async () => {
      throw providerError('item_not_found');
    },
    forgetToken: (token) => void forgotten.push(typeof token === 'string' ? token : token.secret),
    close: async () => {},
  };
  return { provider, answers, calls, forgotten };
}

/** The repository, in memory, with the conditional write of the real one; `interfere` runs before a write. */
function memoryRepo() {
  const rows = new Map<string, VaultRow>();
  const events: AuditEventsTable[] = [];
  const state = { interfere: undefined as (() => void) | undefined, writes: 0 };
  const repo = {
    async insert(row: Omit<VaultRow, 'token_version'>, written: readonly AuditEventsTable[] = []) {
      rows.set(row.id, { ...row, token_version: 1 });
      events.push(...written);
    },
    find: async (orgId: string, id: string) => {
      const row = rows.get(id);
      return row?.org_id === orgId ? row : undefined;
    },
    findWithToken: async (orgId: string, id: string) => {
      const row = rows.get(id);
      return row?.org_id === orgId ? { ...row } : undefined;
    },
    nameTaken: async (orgId: string, name: string, exceptId?: string) =>
      [...rows.values()].some((r) => r.org_id === orgId && r.name === name && r.id !== exceptId),
    async updateIfUnchanged(
      orgId: string,
      id: string,
      expected: RowVersion,
      changes: Partial<VaultRow> & { bumpTokenVersion?: boolean },
      written: readonly AuditEventsTable[] = [],
    ): Promise<WriteResult> {
      state.interfere?.();
      const row = rows.get(id);
      if (row?.org_id !== orgId) return 'missing';
      if (row.op_vault_id !== expected.op_vault_id || row.token_version !== expected.token_version) return 'changed';
      const { bumpTokenVersion, ...columns } = changes;
      rows.set(id, { ...row, ...columns, token_version: row.token_version + (bumpTokenVersion ? 1 : 0) });
      events.push(...written);
      state.writes++;
      return 'written';
    },
    async delete(orgId: string, id: string, written: readonly AuditEventsTable[] = []) {
      const row = rows.get(id);
      if (row?.org_id !== orgId) return undefined;
      rows.delete(id);
      events.push(...written);
      return row;
    },
  };
  return { repo: repo as unknown as VaultRepo, rows, events, state };
}

function setup() {
  const provider = scriptedProvider();
  const store = memoryRepo();
  const envelope = createEnvelope(parseMasterKeys(`k1:${randomBytes(32).toString('base64')}`));
  const recorded: string[] = [];
  const audit = {
    rowFor: (entry: { action: string; outcome: string }) =>
      ({ action: entry.action, outcome: entry.outcome }) as unknown as AuditEventsTable,
    record: async (entry: { action: string; outcome: string; reason?: string | null }) =>
      void recorded.push(`${entry.action}:${entry.outcome}:${entry.reason ?? ''}`),
  };
  const service = createVaultService({ repo: store.repo, envelope, provider: provider.provider, audit: audit as never });
  const create = (name = 'prod', opVaultId = 'vault-a', token = TOKEN) =>
    service.create(caller, { name, provider_config: { op_vault_id: opVaultId }, token });
  return { service, provider, store, envelope, recorded, create };
}

async function codeOf(promise: Promise<unknown>): Promise<ErrorCode> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof DomainError)) throw new Error(`expected a DomainError, got ${String(err)}`);
  return err.code;
}

describe('vault service', () => {
  it('creates after checking the name, then the token shape, then the provider; the token is sealed, never stored plain', async () => {
    const s = setup();
    const vault = await s.create();
    expect(vault).toMatchObject({ name: 'prod', provider_config: { provider: 'onepassword', op_vault_id: 'vault-a' } });
    const row = s.store.rows.get(vault.id);
    expect(JSON.stringify(row)).not.toContain(TOKEN);
    expect(s.store.events.map((e) => e.action)).toEqual(['vault.create']);

    s.provider.calls.length = 0;
    expect(await codeOf(s.create('prod'))).toBe('vault_name_taken');
    expect(await codeOf(s.create('other', 'vault-a', 'not-a-token'))).toBe('token_malformed');
    expect(s.provider.calls).toEqual([]); // neither reached the provider
  });

  it('turns provider refusals into the domain errors the edge answers, at the field the request sent', async () => {
    const s = setup();
    for (const [kind, code] of [
      ['token_rejected', 'token_rejected'],
      ['vault_inaccessible', 'vault_inaccessible'],
      ['rate_limited', 'provider_unavailable'],
      ['unavailable', 'provider_unavailable'],
      ['timeout', 'provider_unavailable'],
    ] as const) {
      s.provider.answers.set('vault-x', kind);
      const err = await s.create(`v-${kind}`, 'vault-x').catch((e: unknown) => e as DomainError);
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe(code);
      if (code === 'token_rejected') expect((err as DomainError<'token_rejected'>).data).toEqual({ field: 'token', opVaultId: 'vault-x' });
    }
    await expect(s.create('limited', 'vault-x')).rejects.toMatchObject({ data: { reason: 'timed out', retryAfterSeconds: 5 } });
    s.provider.answers.set('vault-x', 'rate_limited');
    await expect(s.create('limited', 'vault-x')).rejects.toMatchObject({ data: { reason: 'rate limited', retryAfterSeconds: 30 } });
    expect(s.store.rows.size).toBe(0); // nothing written on any refusal
  });

  it('points every refusal of a rotation at the token, the one field its request has', async () => {
    const s = setup();
    const vault = await s.create();
    for (const kind of ['vault_inaccessible', 'token_rejected'] as const) {
      s.provider.answers.set('vault-a', kind);
      const refused = await s.service.rotateToken(caller, vault.id, OTHER_TOKEN).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: kind, data: { field: 'token', opVaultId: 'vault-a' } });
    }
    // A create names the vault id when the token cannot read it: the request sent both.
    s.provider.answers.set('vault-b', 'vault_inaccessible');
    await expect(s.create('other', 'vault-b')).rejects.toMatchObject({ code: 'vault_inaccessible', data: { field: 'op_vault_id' } });
  });

  it('retries a rotation when a concurrent change moved the row, and gives up with concurrent_change after three tries', async () => {
    const s = setup();
    const vault = await s.create();
    // Another rotation lands between this one's read and its write, once: the retry re-reads and writes.
    let interfered = 0;
    s.store.state.interfere = () => {
      if (interfered++ > 0) return;
      const row = s.store.rows.get(vault.id) as VaultRow;
      s.store.rows.set(vault.id, { ...row, token_version: row.token_version + 1 });
    };
    await s.service.rotateToken(caller, vault.id, OTHER_TOKEN);
    expect(interfered).toBe(2);
    expect(s.store.rows.get(vault.id)?.token_version).toBe(3);
    expect(s.provider.forgotten).toEqual([TOKEN]); // the old token's provider state is dropped

    // It keeps changing under every attempt: the request gives up rather than loop.
    s.store.state.interfere = () => {
      const row = s.store.rows.get(vault.id) as VaultRow;
      s.store.rows.set(vault.id, { ...row, token_version: row.token_version + 1 });
    };
    expect(await codeOf(s.service.rotateToken(caller, vault.id, TOKEN))).toBe('concurrent_change');
    expect(await codeOf(s.service.update(caller, vault.id, { provider_config: { op_vault_id: 'vault-b' } }))).toBe('concurrent_change');
  });

  it('re-points only after the stored token can read the new vault; an empty or unchanged PATCH writes nothing', async () => {
    const s = setup();
    const vault = await s.create();
    const writes = s.store.state.writes;
    expect(await s.service.update(caller, vault.id, {})).toEqual(vault);
    expect(await s.service.update(caller, vault.id, { name: 'prod', provider_config: { op_vault_id: 'vault-a' } })).toEqual(vault);
    expect(s.store.state.writes).toBe(writes);

    s.provider.answers.set('vault-b', 'vault_inaccessible');
    const refused = await s.service.update(caller, vault.id, { provider_config: { op_vault_id: 'vault-b' } }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'vault_inaccessible', data: { field: 'op_vault_id', opVaultId: 'vault-b' } });
    expect(s.provider.calls.at(-1)).toEqual({ token: TOKEN, vaultId: 'vault-b' }); // the stored token was asked
    s.provider.answers.delete('vault-b');
    expect((await s.service.update(caller, vault.id, { provider_config: { op_vault_id: 'vault-b' } })).provider_config.op_vault_id).toBe(
      'vault-b',
    );
  });

  it("keeps orgs apart, and answers a row that no longer decrypts as a health result and an 'undecryptable' re-point", async () => {
    const s = setup();
    const vault = await s.create();
    const stranger: Caller = { ...caller, orgId: '22222222-2222-4222-8222-222222222222' };
    for (const call of [
      s.service.get(stranger, vault.id),
      s.service.update(stranger, vault.id, { name: 'x' }),
      s.service.rotateToken(stranger, vault.id, TOKEN),
      s.service.delete(stranger, vault.id),
      s.service.health(stranger, vault.id),
      s.service.open(stranger, vault.id),
    ]) {
      expect(await codeOf(call)).toBe('vault_not_found');
    }

    const row = s.store.rows.get(vault.id) as VaultRow;
    s.store.rows.set(vault.id, { ...row, token_ciphertext: 'AAAA' });
    expect(await s.service.health(caller, vault.id)).toEqual({ ok: false, error: expect.stringContaining('cannot be decrypted') });
    expect(s.recorded).toEqual(['vault.health:failed:undecryptable']);
    expect(await codeOf(s.service.update(caller, vault.id, { provider_config: { op_vault_id: 'vault-b' } }))).toBe('undecryptable');
    const opened = await s.service.open(caller, vault.id);
    expect(() => opened.token()).toThrow(DomainError);
  });

  it('opens the stored token once per call, parsed', async () => {
    const s = setup();
    const vault = await s.create();
    const opened = await s.service.open(caller, vault.id);
    expect(opened).toMatchObject({ id: vault.id, opVaultId: 'vault-a', tokenVersion: 1 });
    expect(opened.token()).toEqual({ secret: TOKEN, key: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });
});
