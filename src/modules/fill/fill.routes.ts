// HTTP binding of the agent actions. Both accept the org's API key or a grant for this vault.
import type { FastifyInstance } from 'fastify';
import { BODY_ERRORS, errorResponses, ok, ref } from '../../http/schemas.js';
import { VaultParams } from '../vaults/vaults.schemas.js';
import { FILL_SCHEMAS, FillAnswer, FillBody, ListSecretsAnswer, ListSecretsBody } from './fill.schemas.js';
import type { FillService } from './fill.service.js';

const tags = ['Fill'];
const security = [{ HTTPBearer: [] }];
// A refusal is a 200 answer; 502 and 504 are the failures to reach or use the browser.
const errors = errorResponses(404, 502, 504, ...BODY_ERRORS);

export function fillRoutes(service: FillService) {
  return async function register(app: FastifyInstance): Promise<void> {
    for (const schema of FILL_SCHEMAS) app.addSchema(schema);

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
          operationId: 'list_secrets',
          summary: 'list_secrets: the secret fields that can be filled on the page the browser shows (no values)',
          params: VaultParams,
          body: ref(ListSecretsBody),
          response: { 200: ok(ListSecretsAnswer), ...errors },
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
          operationId: 'fill_secret',
          summary: 'fill_secret_at: type a secret into the input at viewport point (x, y); answers filled or a refusal, never the value',
          params: VaultParams,
          body: ref(FillBody),
          response: { 200: ok(FillAnswer), ...errors },
        },
      },
      async (request) => service.fill(request.caller, request.params.vault_id, request.body),
    );
  };
}
