// HTTP binding of the agent actions. Both accept the org's API key or a grant for this vault.
import type { FastifyInstance } from 'fastify';
import { commonErrors, ErrorDetail } from '../../http/schemas.js';
import { VaultParams } from '../vaults/vaults.schemas.js';
import { FillAnswer, FillBody, ListSecretsAnswer, ListSecretsBody } from './fill.schemas.js';
import type { FillService } from './fill.service.js';

const tags = ['fill'];
const security = [{ bearerAuth: [] }];
// A refusal is a 200 answer; these are the failures to reach or use the browser.
const browserErrors = {
  404: ErrorDetail,
  502: { ...ErrorDetail, description: 'The browser could not be reached or went away' },
  504: { ...ErrorDetail, description: 'The browser did not answer in time' },
};

export function fillRoutes(service: FillService) {
  return async function register(app: FastifyInstance): Promise<void> {
    // A grant bound to a browser may leave cdp_endpoint out: it is taken from the grant before the body
    // is validated (this hook runs before the routes' own validation), so for every other caller a
    // missing cdp_endpoint is the same 422 as ever. An endpoint that is sent is checked by the service.
    app.addHook('preValidation', async (request) => {
      const bound = request.caller?.grant?.browser;
      const body = request.body;
      if (bound && typeof body === 'object' && body !== null && !Array.isArray(body) && !('cdp_endpoint' in body)) {
        (body as Record<string, unknown>).cdp_endpoint = bound.cdpEndpoint;
      }
    });

    app.post<{ Params: VaultParams; Body: ListSecretsBody }>(
      '/vaults/:vault_id/list-secrets',
      {
        config: { grantAccess: true },
        schema: {
          tags,
          security,
          summary: 'list_secrets: the secret fields that can be filled on the page the browser shows (no values)',
          params: VaultParams,
          body: ListSecretsBody,
          response: { 200: ListSecretsAnswer, ...browserErrors, ...commonErrors },
        },
      },
      async (request) => service.listSecrets(request.caller, request.params.vault_id, request.body),
    );

    app.post<{ Params: VaultParams; Body: FillBody }>(
      '/vaults/:vault_id/fill',
      {
        config: { grantAccess: true },
        schema: {
          tags,
          security,
          summary: 'fill_secret_at: type a secret into the input at viewport point (x, y); answers filled or a refusal, never the value',
          params: VaultParams,
          body: FillBody,
          response: { 200: FillAnswer, ...browserErrors, ...commonErrors },
        },
      },
      async (request) => service.fill(request.caller, request.params.vault_id, request.body),
    );
  };
}
