// Authentication for everything under /api/v2. In the default mode a Bearer API key; in
// trusted-gateway mode the org comes from the X-User-Org header set by the gateway. In both, a
// grant (Bearer sesame_gr_…) is accepted on the routes marked `config.grantAccess` (the fill
// routes), for the vault named in their path only. One answer for every failure, so a caller
// cannot tell a missing credential from a revoked or misplaced one.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthMode } from '../../config.js';
import { DomainError } from '../../errors.js';
import { parseUuid } from '../../http/validation.js';
import type { AuthService } from './auth.service.js';
import type { Caller } from './caller.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
  interface FastifyContextConfig {
    /** The route also accepts a grant for the vault named by its `vault_id` parameter. */
    grantAccess?: boolean;
  }
}

/** Resolves an `Authorization` header that carries a grant to its caller (undefined for anything else). */
export type GrantAuthenticator = (authorization: string | undefined) => Promise<Caller | undefined>;

export interface AuthHookOptions {
  mode: AuthMode;
  /** Accepts grants on the routes marked `grantAccess`. */
  grants?: GrantAuthenticator;
}

/** Adds the auth hook to the routes registered in `app`'s scope. */
export function registerAuthentication(app: FastifyInstance, auth: AuthService, { mode, grants }: AuthHookOptions): void {
  app.decorateRequest('caller', null as unknown as Caller);
  app.addHook('onRequest', async (request) => {
    if (grants && request.routeOptions.config.grantAccess) {
      const caller = await grantFor(request, grants);
      if (caller) {
        request.caller = caller;
        return;
      }
    }
    const caller = mode === 'trusted-gateway' ? await gatewayCaller(request, auth) : await auth.authenticate(request.headers.authorization);
    if (!caller) throw new DomainError('authentication_required');
    request.caller = caller;
  });
}

/** The grant in the Authorization header, if it is one for the vault in the path. */
async function grantFor(request: FastifyRequest, grants: GrantAuthenticator): Promise<Caller | undefined> {
  const caller = await grants(request.headers.authorization);
  // Path parameters are not validated yet: compare the normalised form the route will see.
  const vaultId = parseUuid(String((request.params as { vault_id?: unknown }).vault_id ?? ''));
  return caller && vaultId === caller.grant?.vaultId ? caller : undefined;
}

async function gatewayCaller(request: FastifyRequest, auth: AuthService): Promise<Caller | undefined> {
  const header = request.headers['x-user-org'];
  if (header === undefined) return undefined;
  const orgId = parseUuid(String(header).trim());
  if (typeof orgId !== 'string') throw new DomainError('invalid_org_id');
  return auth.gatewayCaller(orgId);
}
