// Migrations are listed in code (not read from a folder) so they work the same from src/ and dist/.
import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001-initial.js';
import * as fillAuditGrants from './0002-fill-audit-grants.js';
import * as rateLimits from './0003-rate-limits.js';
import * as vaultCounts from './0004-vault-counts.js';
import * as grantBrowser from './0005-grant-browser.js';
import * as apiKeyLastUsed from './0006-api-key-last-used.js';
import * as serverInstances from './0007-server-instances.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-fill-audit-grants': fillAuditGrants,
  '0003-rate-limits': rateLimits,
  '0004-vault-counts': vaultCounts,
  '0005-grant-browser': grantBrowser,
  '0006-api-key-last-used': apiKeyLastUsed,
  '0007-server-instances': serverInstances,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
