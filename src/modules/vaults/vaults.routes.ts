// HTTP binding of the vault service: schemas in, service call, status and headers out.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { BODY_ERRORS, errorResponses, ListQuery, noContent, ok, ref } from '../../http/schemas.js';
import { type Completion, type IdempotencyStore, requestFingerprint, type StoredResponse } from '../idempotency/idempotency.store.js';
import {
  CreateVaultBody,
  IdempotencyHeaders,
  RotateTokenBody,
  UpdateVaultBody,
  VAULT_SCHEMAS,
  Vault,
  VaultHealth,
  VaultList,
  VaultParams,
} from './vaults.schemas.js';
import type { VaultService } from './vaults.service.js';

// The platform's tag and operation names (operationId is completed by http/openapi.ts, as FastAPI does).
const tags = ['Vaults'];
const security = [{ HTTPBearer: [] }];

export function vaultRoutes(service: VaultService, idempotency: IdempotencyStore) {
  /** Runs `handler` under the request's Idempotency-Key, if it sent one, and writes the (possibly replayed) answer. */
  async function idempotent(
    reply: FastifyReply,
    orgId: string,
    key: string | undefined,
    fingerprint: () => string,
    handler: (complete?: Completion) => Promise<StoredResponse>,
  ) {
    const result = key ? await idempotency.run(orgId, key, fingerprint(), handler) : await handler();
    if ('replayed' in result && result.replayed) reply.header('idempotent-replayed', 'true');
    return result;
  }

  return async function register(app: FastifyInstance): Promise<void> {
    for (const schema of VAULT_SCHEMAS) app.addSchema(schema);

    app.post<{ Body: CreateVaultBody; Headers: { 'idempotency-key'?: string } }>(
      '/vaults',
      {
        schema: {
          tags,
          security,
          operationId: 'create_vault',
          summary: 'Create a vault config',
          headers: IdempotencyHeaders,
          body: ref(CreateVaultBody),
          response: { 201: ok(Vault), ...errorResponses(409, ...BODY_ERRORS) },
        },
      },
      async (request, reply) => {
        const { caller } = request;
        const body = request.body;
        const result = await idempotent(
          reply,
          caller.orgId,
          request.headers['idempotency-key'],
          () =>
            requestFingerprint('create', [
              body.name,
              body.provider_config.provider ?? 'onepassword',
              body.provider_config.op_vault_id,
              body.token,
            ]),
          // With a key, the answer is stored in the vault's own transaction.
          async (complete) => ({
            status: 201,
            body: await service.create(caller, body, complete && ((vault) => complete({ status: 201, body: vault }))),
          }),
        );
        const vault = result.body as Vault;
        return reply.code(result.status).header('location', `/api/v2/vaults/${vault.id}`).send(vault);
      },
    );

    app.get<{ Querystring: ListQuery }>(
      '/vaults',
      {
        schema: {
          tags,
          security,
          operationId: 'list_vaults',
          summary: 'List vault configs, oldest first',
          querystring: ListQuery,
          response: { 200: ok(VaultList), ...errorResponses() },
        },
      },
      async (request) => service.list(request.caller, request.query.limit, request.query.offset),
    );

    app.get<{ Params: VaultParams }>(
      '/vaults/:vault_id',
      {
        schema: {
          tags,
          security,
          operationId: 'get_vault',
          summary: 'Retrieve a vault config',
          params: VaultParams,
          response: { 200: ok(Vault), ...errorResponses(404) },
        },
      },
      async (request) => service.get(request.caller, request.params.vault_id),
    );

    app.patch<{ Params: VaultParams; Body: UpdateVaultBody }>(
      '/vaults/:vault_id',
      {
        schema: {
          tags,
          security,
          operationId: 'update_vault',
          summary: 'Update name and/or provider_config; only the fields present (and not null) change',
          params: VaultParams,
          body: ref(UpdateVaultBody),
          response: { 200: ok(Vault), ...errorResponses(404, 409, ...BODY_ERRORS) },
        },
      },
      async (request) => service.update(request.caller, request.params.vault_id, request.body),
    );

    app.put<{ Params: VaultParams; Body: RotateTokenBody; Headers: { 'idempotency-key'?: string } }>(
      '/vaults/:vault_id/token',
      {
        schema: {
          tags,
          security,
          operationId: 'rotate_vault_token',
          summary: 'Rotate the service account token (checked against 1Password before it is stored)',
          params: VaultParams,
          headers: IdempotencyHeaders,
          body: ref(RotateTokenBody),
          response: { 204: noContent('Rotated'), ...errorResponses(404, 409, ...BODY_ERRORS) },
        },
      },
      async (request, reply) => {
        const { caller } = request;
        const { vault_id: vaultId } = request.params;
        const result = await idempotent(
          reply,
          caller.orgId,
          request.headers['idempotency-key'],
          () => requestFingerprint(`rotate:${vaultId}`, [request.body.token]),
          async (complete) => {
            await service.rotateToken(caller, vaultId, request.body.token, complete?.({ status: 204, body: null }));
            return { status: 204, body: null };
          },
        );
        return reply.code(result.status).send();
      },
    );

    app.delete<{ Params: VaultParams }>(
      '/vaults/:vault_id',
      {
        schema: {
          tags,
          security,
          operationId: 'delete_vault',
          summary: 'Delete a vault config',
          params: VaultParams,
          response: { 204: noContent('Deleted'), ...errorResponses(404) },
        },
      },
      async (request, reply) => {
        await service.delete(request.caller, request.params.vault_id);
        return reply.code(204).send();
      },
    );

    app.get<{ Params: VaultParams }>(
      '/vaults/:vault_id/health',
      {
        schema: {
          tags,
          security,
          operationId: 'vault_health',
          summary: 'Check now that 1Password accepts the stored token and it can read the vault',
          params: VaultParams,
          response: { 200: ok(VaultHealth), ...errorResponses(404) },
        },
      },
      async (request) => service.health(request.caller, request.params.vault_id),
    );
  };
}
