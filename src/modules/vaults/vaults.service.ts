// Vault configs: the rules of docs/api.md, independent of HTTP. A plaintext token lives only
// in local variables for the duration of one provider call.
import { randomUUID } from 'node:crypto';
import { DecryptError, type Envelope } from '../../crypto/envelope.js';
import type { InTransaction } from '../../db/database.js';
import { DomainError, type ProviderField } from '../../errors.js';
import { PROVIDER_ERRORS, ProviderError, type SecretsProvider, type ServiceToken } from '../../providers/provider.js';
import type { AuditEventRow } from '../audit/audit.repo.js';
import type { AuditAction, AuditRecorder } from '../audit/audit.service.js';
import type { Caller } from '../auth/caller.js';
import { sealedOf, type VaultRecord, type VaultRepo, type VaultRow } from './vaults.repo.js';
import type { CreateVaultBody, UpdateVaultBody, Vault, VaultHealth, VaultList } from './vaults.schemas.js';

/** How often a write is retried when a concurrent rotation or re-point changed what was checked. */
const MAX_WRITE_ATTEMPTS = 3;

const UNDECRYPTABLE_REASON = 'Sesame: the stored token cannot be decrypted; rotate it with PUT /api/v2/vaults/{vault_id}/token';

export interface VaultServiceDeps {
  repo: VaultRepo;
  envelope: Envelope;
  provider: SecretsProvider;
  /** Records config changes and health checks. */
  audit?: AuditRecorder;
  now?: () => Date;
}

/** The envelope context binds a stored token to its vault and org: copied to another row, it does not decrypt. */
export const tokenContext = (orgId: string, vaultId: string) => `vault:${orgId}:${vaultId}`;

/** A vault whose token can be opened, for the one call that needs it. */
export interface OpenedVault {
  id: string;
  opVaultId: string;
  /** Bumped by every rotation: caches keyed by it never serve what the old token read. */
  tokenVersion: number;
  /** The plaintext token, parsed once; DomainError `undecryptable` when it no longer opens. Keep it no longer than the call. */
  token(): ServiceToken;
}

export function toVault(row: VaultRecord): Vault {
  return {
    id: row.id,
    org_id: row.org_id,
    name: row.name,
    provider_config: { provider: 'onepassword', op_vault_id: row.op_vault_id },
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/**
 * The request fields a provider's refusal is about: `token` when the token itself is refused, `vault`
 * when the token works but cannot read the vault. Each is a field the request has: a rotation sends only
 * a token, so both of its refusals point at the token.
 */
export interface RefusalFields {
  token: ProviderField;
  vault: ProviderField;
}

/** A provider's refusal or trouble as the domain error for the request, at the request field it is about. */
export function providerFailure(err: unknown, opVaultId: string, fields: RefusalFields): Error {
  if (!(err instanceof ProviderError)) return err instanceof Error ? err : new Error('provider call failed');
  switch (err.kind) {
    case 'token_malformed':
    case 'token_rejected':
      return new DomainError('token_rejected', { field: fields.token, opVaultId });
    case 'vault_inaccessible':
    case 'item_not_found':
      return new DomainError('vault_inaccessible', { field: fields.vault, opVaultId });
    default:
      return new DomainError('provider_unavailable', {
        reason: PROVIDER_ERRORS[err.kind].summary(opVaultId),
        retryAfterSeconds: err.retryAfterSeconds ?? 5,
      });
  }
}

export function createVaultService({ repo, envelope, provider, audit, now = () => new Date() }: VaultServiceDeps) {
  /** The record of a successful change, for the repository to store in the change's own transaction. */
  function changeEvents(caller: Caller, vaultId: string, action: AuditAction): AuditEventRow[] {
    return audit ? [audit.rowFor({ caller, vaultId, action, outcome: 'ok' })] : [];
  }

  /** The request's token, shape-checked and hashed once for every provider call it makes. */
  function parseToken(text: string): ServiceToken {
    const parsed = provider.parseToken(text.trim());
    if (!parsed.ok) throw new DomainError('token_malformed', { reason: parsed.reason });
    return parsed.token;
  }

  /** Asks the provider whether `token` can read `opVaultId`; a refusal is about the request's `fields`. */
  async function checkAccess(token: ServiceToken, opVaultId: string, fields: RefusalFields): Promise<void> {
    try {
      await provider.checkVaultAccess(token, opVaultId, { fresh: true }); // it decides what gets stored: never from a cache
    } catch (err) {
      throw providerFailure(err, opVaultId, fields);
    }
  }

  /** The row's token, parsed; DomainError `undecryptable` when it no longer opens (or, damaged, no longer parses). */
  function openToken(row: VaultRow): ServiceToken {
    let text: string;
    try {
      text = envelope.open(sealedOf(row), tokenContext(row.org_id, row.id));
    } catch (err) {
      if (err instanceof DecryptError) throw new DomainError('undecryptable');
      throw err;
    }
    const parsed = provider.parseToken(text);
    if (!parsed.ok) throw new DomainError('undecryptable');
    return parsed.token;
  }

  async function requireRow(orgId: string, id: string): Promise<VaultRow> {
    const row = await repo.findWithToken(orgId, id);
    if (!row) throw new DomainError('vault_not_found');
    return row;
  }

  /** Drops provider state for a token that is no longer in use (best effort: a row that no longer decrypts has nothing cached). */
  function forgetStoredToken(row: VaultRow): void {
    try {
      provider.forgetToken(openToken(row));
    } catch {
      // nothing to forget
    }
  }

  return {
    /** `also(vault)`: writes that commit in the vault's own transaction (the request's idempotency record). */
    async create(caller: Caller, body: CreateVaultBody, also?: (vault: Vault) => InTransaction): Promise<Vault> {
      const { orgId } = caller;
      const opVaultId = body.provider_config.op_vault_id;
      if (await repo.nameTaken(orgId, body.name)) throw new DomainError('vault_name_taken', { name: body.name });
      const token = parseToken(body.token);
      await checkAccess(token, opVaultId, { token: 'token', vault: 'op_vault_id' });
      const id = randomUUID();
      const at = now().toISOString();
      const sealed = envelope.seal(token.secret, tokenContext(orgId, id));
      const row = {
        id,
        org_id: orgId,
        name: body.name,
        provider: 'onepassword',
        op_vault_id: opVaultId,
        token_key_id: sealed.keyId,
        token_wrapped_key: sealed.wrappedKey,
        token_ciphertext: sealed.ciphertext,
        created_at: at,
        updated_at: at,
      };
      const vault = toVault(row);
      await repo.insert(row, changeEvents(caller, id, 'vault.create'), also ? [also(vault)] : []);
      return vault;
    },

    async list({ orgId }: Caller, limit: number, offset: number): Promise<VaultList> {
      const { total, rows } = await repo.list(orgId, limit, offset);
      return { total, limit, offset, vaults: rows.map(toVault) };
    },

    async get({ orgId }: Caller, id: string): Promise<Vault> {
      const row = await repo.find(orgId, id);
      if (!row) throw new DomainError('vault_not_found');
      return toVault(row);
    },

    async update(caller: Caller, id: string, patch: UpdateVaultBody): Promise<Vault> {
      const { orgId } = caller;
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        const row = await requireRow(orgId, id);
        const changes: { name?: string; op_vault_id?: string } = {};
        // null, like a field left out, keeps the current value.
        if (patch.name != null && patch.name !== row.name) {
          if (await repo.nameTaken(orgId, patch.name, id)) throw new DomainError('vault_name_taken', { name: patch.name });
          changes.name = patch.name;
        }
        const opVaultId = patch.provider_config?.op_vault_id;
        if (opVaultId !== undefined && opVaultId !== row.op_vault_id) {
          // The stored token vouches for the new vault id; one that no longer decrypts cannot.
          await checkAccess(openToken(row), opVaultId, { token: 'op_vault_id', vault: 'op_vault_id' });
          changes.op_vault_id = opVaultId;
        }
        if (Object.keys(changes).length === 0) return toVault(row);
        const updated = { ...changes, updated_at: now().toISOString() };
        const result = await repo.updateIfUnchanged(orgId, id, row, updated, changeEvents(caller, id, 'vault.update'));
        if (result === 'written') return toVault({ ...row, ...updated });
        if (result === 'missing') throw new DomainError('vault_not_found');
      }
      throw new DomainError('concurrent_change');
    },

    async rotateToken(caller: Caller, id: string, rawToken: string, also?: InTransaction): Promise<void> {
      const { orgId } = caller;
      let token: ServiceToken | undefined;
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        const row = await requireRow(orgId, id);
        token ??= parseToken(rawToken);
        // The request has only a token: a token that cannot read the vault is refused at the token.
        await checkAccess(token, row.op_vault_id, { token: 'token', vault: 'token' });
        const sealed = envelope.seal(token.secret, tokenContext(orgId, id));
        const result = await repo.updateIfUnchanged(
          orgId,
          id,
          row,
          {
            token_key_id: sealed.keyId,
            token_wrapped_key: sealed.wrappedKey,
            token_ciphertext: sealed.ciphertext,
            updated_at: now().toISOString(),
            bumpTokenVersion: true,
          },
          changeEvents(caller, id, 'vault.rotate'),
          also ? [also] : [],
        );
        if (result === 'written') return forgetStoredToken(row);
        if (result === 'missing') throw new DomainError('vault_not_found');
      }
      throw new DomainError('concurrent_change');
    },

    async delete(caller: Caller, id: string): Promise<void> {
      const row = await repo.delete(caller.orgId, id, changeEvents(caller, id, 'vault.delete'));
      if (!row) throw new DomainError('vault_not_found');
      forgetStoredToken(row);
    },

    async health(caller: Caller, id: string): Promise<VaultHealth> {
      const row = await requireRow(caller.orgId, id);
      const recordHealth = (reason?: string) =>
        audit?.record({ caller, vaultId: id, action: 'vault.health', outcome: reason ? 'failed' : 'ok', reason });
      let token: ServiceToken;
      try {
        token = openToken(row);
      } catch (err) {
        // A row that no longer decrypts (its master key was removed, or it was copied or tampered with) is a health answer, not a 500.
        if (!(err instanceof DomainError)) throw err;
        await recordHealth('undecryptable');
        return { ok: false, error: UNDECRYPTABLE_REASON };
      }
      try {
        await provider.checkVaultAccess(token, row.op_vault_id, { fresh: true });
        await recordHealth();
        return { ok: true, error: null };
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        await recordHealth(err.kind);
        return { ok: false, error: `1Password: ${PROVIDER_ERRORS[err.kind].summary(row.op_vault_id)}` };
      }
    },

    /** Vault `id` of the caller's org, read now, with its token to open for one provider call (the fill). */
    async open({ orgId }: Caller, id: string): Promise<OpenedVault> {
      const row = await requireRow(orgId, id);
      return { id: row.id, opVaultId: row.op_vault_id, tokenVersion: row.token_version, token: () => openToken(row) };
    },
  };
}

export type VaultService = ReturnType<typeof createVaultService>;
