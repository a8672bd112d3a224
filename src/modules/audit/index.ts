// The per-vault audit trail: what every module records, and GET …/events.
import type { Kysely } from 'kysely';
import type { Tables } from '../../db/schema.js';
import { createAuditRepo } from './audit.repo.js';
import { auditRoutes } from './audit.routes.js';
import { createAuditService } from './audit.service.js';

export type { AuditAction, AuditEntry, AuditRecorder } from './audit.service.js';

export interface AuditModuleDeps {
  db: Kysely<Tables>;
  /** Whether the org has this vault (a deleted vault's trail stays readable while it has events). */
  vaultExists: (orgId: string, vaultId: string) => Promise<boolean>;
}

export function createAuditModule({ db, vaultExists }: AuditModuleDeps) {
  const service = createAuditService({ repo: createAuditRepo(db), vaultExists });
  return { service, routes: auditRoutes(service) };
}
