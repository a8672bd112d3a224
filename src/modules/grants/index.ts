// Grants: short-lived credentials for one browser runner, and their routes.
import type { Kysely } from 'kysely';
import type { Tables } from '../../db/schema.js';
import type { AuditRecorder } from '../audit/audit.service.js';
import { createGrantRepo } from './grants.repo.js';
import { grantRoutes } from './grants.routes.js';
import { createGrantService } from './grants.service.js';

export interface GrantsModuleDeps {
  db: Kysely<Tables>;
  audit: AuditRecorder;
  vaultExists: (orgId: string, vaultId: string) => Promise<boolean>;
}

export function createGrantsModule({ db, audit, vaultExists }: GrantsModuleDeps) {
  const service = createGrantService({ repo: createGrantRepo(db), vaultExists, audit });
  return { service, routes: grantRoutes(service), authenticate: service.authenticate };
}
