// Vault configs: the rules of spec/vaults-api.md, independent of HTTP. A plaintext token lives only
// in local variables for the duration of one provider call.
import { randomUUID } from 'node:crypto';
import { DecryptError, type Envelope } from '../../crypto/envelope.js';
import { HttpError, providerUnavailable, ValidationError, type ValidationIssue, vaultNameTaken, vaultNotFound } from '../../errors.js';
import { TOKEN_MASK } from '../../http/redact.js';
import { ProviderError, type ProviderErrorKind, type SecretsProvider } from '../../providers/provider.js';
import type { AuditEventRow } from '../audit/audit.repo.js';
import type { Actor, AuditAction, AuditRecorder } from '../audit/audit.service.js';
import { sealedOf, type VaultRecord, type VaultRepo, type VaultRow } from './vaults.repo.js';
import type { CreateVaultBody, UpdateVaultBody, Vault, VaultHealth, VaultList } from './vaults.schemas.js';

/** How often a write is retried when a concurrent rotation or re-point changed what was checked. */
const MAX_WRITE_ATTEMPTS = 3;

const TOKEN_LOC = ['body', 'token'];
const OP_VAULT_LOC = ['body', 'provider_config', 'op_vault_id'];

const UNAVAILABLE_REASON: Partial<Record<ProviderErrorKind, string>> = {
  rate_limited: 'rate limited',
  timeout: 'timed out',
  unavailable: 'unreachable',
};

const HEALTH_REASON: Record<ProviderErrorKind, (opVaultId: string) => string> = {
  token_malformed: () => '1Password: invalid service account token',
  token_rejected: () => '1Password: invalid service account token',
  vault_inaccessible: (opVaultId) => `1Password: this token cannot access vault '${opVaultId}'`,
  item_not_found: () => '1Password: item not found',
  rate_limited: () => '1Password: rate limited',
  unavailable: () => '1Password: unreachable',
  timeout: () => '1Password: timed out',
  internal: () => '1Password: unexpected error',
};

const UNDECRYPTABLE_REASON = 'Sesame: the stored token cannot be decrypted; rotate it with PUT /api/v2/vaults/{vault_id}/token';

export interface VaultServiceDeps {
  repo: VaultRepo;
  envelope: Envelope;
  provider: SecretsProvider;
  /** Records config changes and health checks of callers that name their actor. */
  audit?: AuditRecorder;
  now?: () => Date;
}

/** The envelope context binds a stored token to its vault and org: copied to another row, it does not decrypt. */
export const tokenContext = (orgId: string, vaultId: string) => `vault:${orgId}:${vaultId}`;

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

export function createVaultService({ repo, envelope, provider, audit, now = () => new Date() }: VaultServiceDeps) {
  async function audited(orgId: string, vaultId: string, actor: Actor | undefined, action: AuditAction, failure?: string) {
    if (audit && actor) await audit.record({ orgId, vaultId, actor, action, outcome: failure ? 'failed' : 'ok', reason: failure });
  }

  /** The record of a successful change, for the repository to store in the change's own transaction. */
  function changeEvents(orgId: string, vaultId: string, actor: Actor | undefined, action: AuditAction): AuditEventRow[] {
    return audit && actor ? [audit.rowFor({ orgId, vaultId, actor, action, outcome: 'ok' })] : [];
  }

  function checkTokenShape(token: string): void {
    const check = provider.checkTokenFormat(token);
    if (!check.ok) {
      throw new ValidationError([
        {
          type: 'token_format',
          loc: TOKEN_LOC,
          msg: `Value is not a 1Password service account token (${check.reason})`,
          input: TOKEN_MASK,
        },
      ]);
    }
  }

  /** Asks the provider whether `token` can read `opVaultId`; refusals become 422s at `refusalLoc`, trouble a 503. */
  async function checkAccess(token: string, opVaultId: string, refusalLoc: 'token' | 'op_vault_id'): Promise<void> {
    try {
      await provider.checkVaultAccess(token, opVaultId, { fresh: true }); // it decides what gets stored: never from a cache
    } catch (err) {
      throw providerFailure(err, opVaultId, refusalLoc);
    }
  }

  function openToken(row: VaultRow): string {
    return envelope.open(sealedOf(row), tokenContext(row.org_id, row.id));
  }

  /** The stored token for a re-check; one that no longer decrypts cannot vouch for a new vault id. */
  function storedTokenForCheck(row: VaultRow): string {
    try {
      return openToken(row);
    } catch (err) {
      if (!(err instanceof DecryptError)) throw err;
      throw new HttpError(
        409,
        'The stored token cannot be decrypted, so the new op_vault_id cannot be checked; rotate the token with PUT /api/v2/vaults/{vault_id}/token first',
      );
    }
  }

  async function requireRow(orgId: string, id: string): Promise<VaultRow> {
    const row = await repo.findWithToken(orgId, id);
    if (!row) throw vaultNotFound();
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
    async create(orgId: string, body: CreateVaultBody, actor?: Actor): Promise<Vault> {
      const token = body.token.trim();
      const opVaultId = body.provider_config.op_vault_id;
      if (await repo.nameTaken(orgId, body.name)) throw vaultNameTaken(body.name);
      checkTokenShape(token);
      await checkAccess(token, opVaultId, 'token');
      const id = randomUUID();
      const at = now().toISOString();
      const sealed = envelope.seal(token, tokenContext(orgId, id));
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
      await repo.insert(row, changeEvents(orgId, id, actor, 'vault.create'));
      return toVault(row);
    },

    async list(orgId: string, limit: number, offset: number): Promise<VaultList> {
      const { total, rows } = await repo.list(orgId, limit, offset);
      return { total, limit, offset, vaults: rows.map(toVault) };
    },

    async get(orgId: string, id: string): Promise<Vault> {
      const row = await repo.find(orgId, id);
      if (!row) throw vaultNotFound();
      return toVault(row);
    },

    async update(orgId: string, id: string, patch: UpdateVaultBody, actor?: Actor): Promise<Vault> {
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        const row = await requireRow(orgId, id);
        const changes: { name?: string; op_vault_id?: string } = {};
        if (patch.name !== undefined && patch.name !== row.name) {
          if (await repo.nameTaken(orgId, patch.name, id)) throw vaultNameTaken(patch.name);
          changes.name = patch.name;
        }
        const opVaultId = patch.provider_config?.op_vault_id;
        if (opVaultId !== undefined && opVaultId !== row.op_vault_id) {
          await checkAccess(storedTokenForCheck(row), opVaultId, 'op_vault_id');
          changes.op_vault_id = opVaultId;
        }
        if (Object.keys(changes).length === 0) return toVault(row);
        const updated = { ...changes, updated_at: now().toISOString() };
        const result = await repo.updateIfUnchanged(orgId, id, row, updated, changeEvents(orgId, id, actor, 'vault.update'));
        if (result === 'written') return toVault({ ...row, ...updated });
        if (result === 'missing') throw vaultNotFound();
      }
      throw new HttpError(409, 'The vault was changed by another request while this one ran; retry');
    },

    async rotateToken(orgId: string, id: string, rawToken: string, actor?: Actor): Promise<void> {
      const token = rawToken.trim();
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        const row = await requireRow(orgId, id);
        checkTokenShape(token);
        await checkAccess(token, row.op_vault_id, 'token');
        const sealed = envelope.seal(token, tokenContext(orgId, id));
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
          changeEvents(orgId, id, actor, 'vault.rotate'),
        );
        if (result === 'written') return forgetStoredToken(row);
        if (result === 'missing') throw vaultNotFound();
      }
      throw new HttpError(409, 'The vault was changed by another request while this one ran; retry');
    },

    async delete(orgId: string, id: string, actor?: Actor): Promise<void> {
      const row = await repo.delete(orgId, id, changeEvents(orgId, id, actor, 'vault.delete'));
      if (!row) throw vaultNotFound();
      forgetStoredToken(row);
    },

    async health(orgId: string, id: string, actor?: Actor): Promise<VaultHealth> {
      const row = await requireRow(orgId, id);
      let token: string;
      try {
        token = openToken(row);
      } catch (err) {
        // A row that no longer decrypts (its master key was removed, or it was copied or tampered with) is a health answer, not a 500.
        if (!(err instanceof DecryptError)) throw err;
        await audited(orgId, id, actor, 'vault.health', 'undecryptable');
        return { ok: false, error: UNDECRYPTABLE_REASON };
      }
      try {
        await provider.checkVaultAccess(token, row.op_vault_id, { fresh: true });
        await audited(orgId, id, actor, 'vault.health');
        return { ok: true, error: null };
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        await audited(orgId, id, actor, 'vault.health', err.kind);
        return { ok: false, error: HEALTH_REASON[err.kind](row.op_vault_id) };
      }
    },
  };
}

export type VaultService = ReturnType<typeof createVaultService>;

/** Turns a provider failure into the API's answer: a 422 for "your token or vault is wrong", a 503 for "try again". */
function providerFailure(err: unknown, opVaultId: string, refusalLoc: 'token' | 'op_vault_id'): Error {
  if (!(err instanceof ProviderError)) return err instanceof Error ? err : new Error('provider call failed');
  const issue = (loc: string[], msg: string, input: unknown): ValidationIssue => ({ type: 'provider_rejected', loc, msg, input });
  switch (err.kind) {
    case 'token_malformed':
    case 'token_rejected':
      return new ValidationError([
        refusalLoc === 'token'
          ? issue(TOKEN_LOC, '1Password rejected the service account token', TOKEN_MASK)
          : issue(
              OP_VAULT_LOC,
              '1Password rejected the stored service account token; rotate it with PUT /api/v2/vaults/{vault_id}/token',
              opVaultId,
            ),
      ]);
    case 'vault_inaccessible':
    case 'item_not_found':
      return new ValidationError([
        issue(OP_VAULT_LOC, `This service account token cannot access 1Password vault '${opVaultId}'`, opVaultId),
      ]);
    default:
      return providerUnavailable(UNAVAILABLE_REASON[err.kind] ?? 'unexpected error', err.retryAfterSeconds ?? 5);
  }
}
