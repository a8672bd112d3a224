// HTTP binding of the vault service: schemas in, service call, status and headers out.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { commonErrors, ErrorDetail, ListQuery } from '../../http/schemas.js';
import { type Completion, type IdempotencyStore, requestFingerprint, type StoredResponse } from '../idempotency/idempotency.store.js';
import {
  CreateVaultBody,
  IdempotencyHeaders,
  RotateTokenBody,
  UpdateVaultBody,
  Vault,
  VaultHealth,
  VaultList,
  VaultParams,
} from './vaults.schemas.js';
import type { VaultService } from './vaults.service.js';

const tags = ['vaults'];
const security = [{ bearerAuth: [] }];
const notFound = { 404: ErrorDetail };
const providerErrors = { 409: ErrorDetail, 503: ErrorDetail };

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
    app.post<{ Body: CreateVaultBody; Headers: { 'idempotency-key'?: string } }>(
      '/vaults',
      {
        schema: {
          tags,
          security,
          summary: 'Create a vault config',
          headers: IdempotencyHeaders,
          body: CreateVaultBody,
          response: { 201: Vault, ...commonErrors, ...providerErrors },
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
          summary: 'List vault configs, oldest first',
          querystring: ListQuery,
          response: { 200: VaultList, ...commonErrors },
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
          summary: 'Retrieve a vault config',
          params: VaultParams,
          response: { 200: Vault, ...notFound, ...commonErrors },
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
          summary: 'Update name and/or provider_config; only the fields present change',
          params: VaultParams,
          body: UpdateVaultBody,
          response: { 200: Vault, ...notFound, ...commonErrors, ...providerErrors },
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
          summary: 'Rotate the service account token (checked against 1Password before it is stored)',
          params: VaultParams,
          headers: IdempotencyHeaders,
          body: RotateTokenBody,
          response: { 204: { type: 'null', description: 'Rotated' }, ...notFound, ...commonErrors, ...providerErrors },
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
          summary: 'Delete a vault config',
          params: VaultParams,
          response: { 204: { type: 'null', description: 'Deleted' }, ...notFound, ...commonErrors },
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
          summary: 'Check now that 1Password accepts the stored token and it can read the vault',
          params: VaultParams,
          response: { 200: VaultHealth, ...notFound, ...commonErrors },
        },
      },
      async (request) => service.health(request.caller, request.params.vault_id),
    );
  };
}
