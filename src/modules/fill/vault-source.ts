// A SecretSource over a vault config: the provider, the vault's token and its 1Password vault.
// Field metadata (ids, labels, kinds; never values) is cached per item version, so a fill in steady
// state costs one item read (the value) plus the provider's item listing, which it caches briefly.
import { LRUCache } from 'lru-cache';
import type { MatchableField } from '../../matching/index.js';
import { type ItemOverview, ProviderError, type SecretsProvider, type ServiceToken } from '../../providers/provider.js';
import type { OpenedVault } from '../vaults/vaults.service.js';
import type { SecretSource } from './fill.types.js';

/** Field metadata by item version, least recently used out first. Holds no value. */
export type FieldCache = LRUCache<string, readonly MatchableField[]>;

export function createFieldCache(limit = 5_000): FieldCache {
  return new LRUCache({ max: limit });
}

export interface VaultSourceOptions {
  provider: SecretsProvider;
  /** The vault config: its id (Sesame's, which also scopes the cache), its 1Password vault, its token version. */
  vault: Pick<OpenedVault, 'id' | 'opVaultId' | 'tokenVersion'>;
  /** The service account token, held only for this request. */
  token: ServiceToken;
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
