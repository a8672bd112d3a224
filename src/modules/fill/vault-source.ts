// A SecretSource over a vault config: the provider, the vault's token and its 1Password vault.
// Field metadata (ids, labels, kinds; never values) is cached per item version, so a fill in steady
// state costs one item read (the value) plus the provider's item listing, which it caches briefly.
import type { MatchableField } from '../../matching/index.js';
import { type ItemOverview, ProviderError, type SecretsProvider } from '../../providers/provider.js';
import type { OpenedVault } from '../vaults/vaults.service.js';
import type { SecretSource } from './fill.types.js';

/** Bounded, least-recently-used field metadata by item version. Holds no value. */
export interface FieldCache {
  get(key: string): readonly MatchableField[] | undefined;
  set(key: string, fields: readonly MatchableField[]): void;
}

export function createFieldCache(limit = 5_000): FieldCache {
  const entries = new Map<string, readonly MatchableField[]>();
  return {
    get(key) {
      const fields = entries.get(key);
      if (fields) {
        entries.delete(key);
        entries.set(key, fields);
      }
      return fields;
    },
    set(key, fields) {
      entries.delete(key);
      entries.set(key, fields);
      if (entries.size > limit) entries.delete(entries.keys().next().value as string);
    },
  };
}

export interface VaultSourceOptions {
  provider: SecretsProvider;
  /** The vault config: its id (Sesame's, which also scopes the cache), its 1Password vault, its token version. */
  vault: Pick<OpenedVault, 'id' | 'opVaultId' | 'tokenVersion'>;
  /** The plaintext service account token, held only for this request. */
  token: string;
  cache: FieldCache;
}

export function vaultSecretSource({ provider, vault, token, cache }: VaultSourceOptions): SecretSource {
  const { id: vaultId, opVaultId, tokenVersion } = vault;
  // 1Password bumps updatedAt on every edit of an item, so a key with it never serves stale fields.
  const keyOf = (item: ItemOverview) => JSON.stringify([vaultId, opVaultId, tokenVersion, item.id, item.updatedAt]);
  return {
    id: vaultId,
    listItems: () => provider.listItems(token, opVaultId),
    async describeItem(item) {
      const key = keyOf(item);
      const cached = cache.get(key);
      if (cached) return cached;
      const { fields } = await provider.getItem(token, opVaultId, item.id);
      const metadata = fields.map(({ id, label, kind }) => ({ id, label, kind }));
      cache.set(key, metadata);
      return metadata;
    },
    async readValue(item, fieldId) {
      const { fields } = await provider.getItem(token, opVaultId, item.id);
      const field = fields.find((f) => f.id === fieldId);
      if (!field) throw new ProviderError('item_not_found', 'the field is no longer on the item');
      return field.value;
    },
  };
}
