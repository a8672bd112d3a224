// HTTP binding of the audit trail: GET /api/v2/vaults/{vault_id}/events.
import type { FastifyInstance } from 'fastify';
import { commonErrors, ErrorDetail, ListQuery } from '../../http/schemas.js';
import { VaultParams } from '../vaults/vaults.schemas.js';
import { AuditEventList } from './audit.schemas.js';
import type { AuditService } from './audit.service.js';

export function auditRoutes(service: AuditService) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get<{ Params: VaultParams; Querystring: ListQuery }>(
      '/vaults/:vault_id/events',
      {
        schema: {
          tags: ['audit'],
          security: [{ bearerAuth: [] }],
          summary: "A vault's audit events, newest first (also after the vault was deleted)",
          params: VaultParams,
          querystring: ListQuery,
          response: { 200: AuditEventList, 404: ErrorDetail, ...commonErrors },
        },
      },
      async (request) => service.list(request.caller, request.params.vault_id, request.query.limit, request.query.offset),
    );
  };
}
