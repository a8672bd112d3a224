// HTTP binding of the audit trail: GET /api/v2/vaults/{vault_id}/events.
import type { FastifyInstance } from 'fastify';
import { errorResponses, ListQuery, ok } from '../../http/schemas.js';
import { VaultParams } from '../vaults/vaults.schemas.js';
import { AUDIT_SCHEMAS, AuditEventList } from './audit.schemas.js';
import type { AuditService } from './audit.service.js';

export function auditRoutes(service: AuditService) {
  return async function register(app: FastifyInstance): Promise<void> {
    for (const schema of AUDIT_SCHEMAS) app.addSchema(schema);

    app.get<{ Params: VaultParams; Querystring: ListQuery }>(
      '/vaults/:vault_id/events',
      {
        schema: {
          tags: ['Audit'],
          security: [{ HTTPBearer: [] }],
          operationId: 'list_vault_events',
          summary: "A vault's audit events, newest first (also after the vault was deleted)",
          params: VaultParams,
          querystring: ListQuery,
          response: { 200: ok(AuditEventList), ...errorResponses(404) },
        },
      },
      async (request) => service.list(request.caller, request.params.vault_id, request.query.limit, request.query.offset),
    );
  };
}
