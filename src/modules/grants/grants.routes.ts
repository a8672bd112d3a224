// HTTP binding of grants: mint, list, revoke. API keys only (a grant cannot mint or see grants).
import type { FastifyInstance } from 'fastify';
import { BODY_ERRORS, errorResponses, ListQuery, noContent, ok, ref } from '../../http/schemas.js';
import { VaultParams } from '../vaults/vaults.schemas.js';
import { CreatedGrant, CreateGrantBody, GRANT_SCHEMAS, GrantList, GrantParams } from './grants.schemas.js';
import type { GrantService } from './grants.service.js';

const tags = ['Grants'];
const security = [{ HTTPBearer: [] }];

export function grantRoutes(service: GrantService) {
  return async function register(app: FastifyInstance): Promise<void> {
    for (const schema of GRANT_SCHEMAS) app.addSchema(schema);

    app.post<{ Params: VaultParams; Body: CreateGrantBody }>(
      '/vaults/:vault_id/grants',
      {
        schema: {
          tags,
          security,
          operationId: 'create_grant',
          summary: 'Mint a grant: a short-lived credential that can only list and fill secrets of this vault',
          params: VaultParams,
          body: ref(CreateGrantBody),
          response: { 201: ok(CreatedGrant), ...errorResponses(404, ...BODY_ERRORS) },
        },
      },
      async (request, reply) => {
        const created = await service.mint(request.caller, request.params.vault_id, request.body);
        return reply.code(201).header('cache-control', 'no-store').send(created);
      },
    );

    app.get<{ Params: VaultParams; Querystring: ListQuery }>(
      '/vaults/:vault_id/grants',
      {
        schema: {
          tags,
          security,
          operationId: 'list_grants',
          summary: "A vault's grants, newest first (never their plaintext)",
          params: VaultParams,
          querystring: ListQuery,
          response: { 200: ok(GrantList), ...errorResponses(404) },
        },
      },
      async (request) => service.list(request.caller, request.params.vault_id, request.query.limit, request.query.offset),
    );

    app.delete<{ Params: GrantParams }>(
      '/vaults/:vault_id/grants/:grant_id',
      {
        schema: {
          tags,
          security,
          operationId: 'revoke_grant',
          summary: 'Revoke a grant; it stops authenticating at once, on every instance',
          params: GrantParams,
          response: { 204: noContent('Revoked'), ...errorResponses(404) },
        },
      },
      async (request, reply) => {
        await service.revoke(request.caller, request.params.vault_id, request.params.grant_id);
        return reply.code(204).send();
      },
    );
  };
}
