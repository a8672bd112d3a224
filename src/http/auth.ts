// Authentication for everything under /api/v2. In the default mode a Bearer API key; in
// trusted-gateway mode the org comes from the X-User-Org header set by the gateway. In both, a
// grant (Bearer sesame_gr_…) is accepted on the routes marked `config.grantAccess` (the fill
// routes), for the vault named in their path only. One answer for every failure, so a caller
// cannot tell a missing credential from a revoked or misplaced one.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthMode } from '../config.js';
import { authenticationRequired, invalidUserOrOrgId } from '../errors.js';
import type { Actor } from '../modules/audit/audit.service.js';
import type { AuthService, Principal } from '../modules/auth/auth.service.js';
import type { GrantPrincipal, GrantService } from '../modules/grants/grants.service.js';
import { parseUuid } from './validation.js';

/** Who is calling: the org, the credential used (the audit actor) and, for a grant, its limits. */
export interface Caller extends Principal {
  actor: Actor;
  grant?: GrantPrincipal;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Caller;
  }
  interface FastifyContextConfig {
    /** The route also accepts a grant for the vault named by its `vault_id` parameter. */
    grantAccess?: boolean;
  }
}

/** Adds the auth hook to the routes registered in `app`'s scope. */
export function requireAuthentication(
  app: FastifyInstance,
  auth: AuthService,
  mode: AuthMode,
  grants?: Pick<GrantService, 'authenticate'>,
): void {
  app.decorateRequest('principal', null as unknown as Caller);
  app.addHook('onRequest', async (request) => {
    if (grants && request.routeOptions.config.grantAccess) {
      const grant = await grantOf(request, grants);
      if (grant) {
        request.principal = { orgId: grant.orgId, keyId: grant.id, actor: { type: 'grant', id: grant.id }, grant };
        return;
      }
    }
    const principal =
      mode === 'trusted-gateway' ? await gatewayPrincipal(request, auth) : await auth.authenticate(request.headers.authorization);
    if (!principal) throw authenticationRequired();
    request.principal = { ...principal, actor: { type: mode === 'trusted-gateway' ? 'gateway' : 'api_key', id: principal.keyId } };
  });
}

/** The grant in the Authorization header, if it is one for the vault in the path. */
async function grantOf(request: FastifyRequest, grants: Pick<GrantService, 'authenticate'>): Promise<GrantPrincipal | undefined> {
  const grant = await grants.authenticate(request.headers.authorization);
  // Path parameters are not validated yet: compare the normalised form the route will see.
  const vaultId = parseUuid(String((request.params as { vault_id?: unknown }).vault_id ?? ''));
  return grant && vaultId === grant.vaultId ? grant : undefined;
}

async function gatewayPrincipal(request: FastifyRequest, auth: AuthService): Promise<Principal | undefined> {
  const header = request.headers['x-user-org'];
  if (header === undefined) return undefined;
  const orgId = parseUuid(String(header).trim());
  if (typeof orgId !== 'string') throw invalidUserOrOrgId();
  return auth.gatewayPrincipal(orgId);
}
