// Grants: short-lived credentials for one browser runner, and their routes.
import type { Kysely } from 'kysely';
import type { Tables } from '../../db/schema.js';
import type { AuditRecorder } from '../audit/audit.service.js';
import { createCdpAllowList, parseCdpEndpoint } from '../fill/cdp.js';
import { createGrantRepo } from './grants.repo.js';
import { grantRoutes } from './grants.routes.js';
import { createGrantService } from './grants.service.js';

export interface GrantsModuleDeps {
  db: Kysely<Tables>;
  audit: AuditRecorder;
  vaultExists: (orgId: string, vaultId: string) => Promise<boolean>;
  /** SESAME_CDP_ALLOW entries: a grant is bound only to a browser the fill may reach. */
  cdpAllow: readonly string[];
}

export function createGrantsModule({ db, audit, vaultExists, cdpAllow }: GrantsModuleDeps) {
  const allowList = createCdpAllowList(cdpAllow);
  const browserAllowed = (cdpEndpoint: string) => {
    const endpoint = parseCdpEndpoint(cdpEndpoint);
    return endpoint !== null && allowList.allows(endpoint);
  };
  const service = createGrantService({ repo: createGrantRepo(db), vaultExists, audit, browserAllowed });
  return { service, routes: grantRoutes(service), authenticate: service.authenticate };
}
