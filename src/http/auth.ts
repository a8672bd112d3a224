// Bearer API-key authentication for everything under /api/v2. One answer for every failure, so
// a caller cannot tell a missing key from a revoked one.
import type { FastifyInstance } from 'fastify';
import { authenticationRequired } from '../errors.js';
import type { AuthService, Principal } from '../modules/auth/auth.service.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

/** Adds the auth hook to the routes registered in `app`'s scope. */
export function requireApiKey(app: FastifyInstance, auth: AuthService): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request) => {
    const principal = await auth.authenticate(request.headers.authorization);
    if (!principal) throw authenticationRequired();
    request.principal = principal;
  });
}
