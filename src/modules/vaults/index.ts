// Vault configs (/api/v2/vaults): the service, its routes, and what other modules may ask of a vault.
import type { Kysely } from 'kysely';
import type { Envelope } from '../../crypto/envelope.js';
import type { Tables } from '../../db/schema.js';
import type { SecretsProvider } from '../../providers/provider.js';
import type { AuditRecorder } from '../audit/audit.service.js';
import type { IdempotencyStore } from '../idempotency/idempotency.store.js';
import { createVaultRepo } from './vaults.repo.js';
import { vaultRoutes } from './vaults.routes.js';
import { createVaultService } from './vaults.service.js';

export {
  announceServer,
  describeServer,
  LIVE_MS,
  type Presence,
  type RunningServer,
  runningServers,
} from './vaults.instances.js';
export { createKeyMaintenance, type KeyMaintenance, type RewrapOptions, type RewrapProgress, type VerifyReport } from './vaults.rewrap.js';
export type { OpenedVault, VaultService } from './vaults.service.js';

export interface VaultsModuleDeps {
  db: Kysely<Tables>;
  envelope: Envelope;
  provider: SecretsProvider;
  audit: AuditRecorder;
  idempotency: IdempotencyStore;
}

export function createVaultsModule({ db, envelope, provider, audit, idempotency }: VaultsModuleDeps) {
  const repo = createVaultRepo(db);
  const service = createVaultService({ repo, envelope, provider, audit });
  return {
    service,
    routes: vaultRoutes(service, idempotency),
    exists: async (orgId: string, vaultId: string) => (await repo.find(orgId, vaultId)) !== undefined,
  };
}
