// Wire schemas of GET /api/v2/vaults/{vault_id}/events.
import { type Static, Type } from '@sinclair/typebox';
import { ref } from '../../http/schemas.js';

export const AuditEvent = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'Time-ordered (UUIDv7)' }),
    time: Type.String({ format: 'date-time' }),
    org_id: Type.String({ format: 'uuid' }),
    vault_id: Type.String({ format: 'uuid' }),
    actor: Type.Object(
      {
        type: Type.Union([Type.Literal('api_key'), Type.Literal('grant'), Type.Literal('gateway')]),
        id: Type.String({ description: 'The API key id or grant id the caller used (trusted-gateway mode: "trusted-gateway")' }),
      },
      { additionalProperties: false },
    ),
    action: Type.String({
      description: 'list_secrets, fill, vault.create, vault.update, vault.rotate, vault.delete, vault.health, grant.create or grant.revoke',
    }),
    origin: Type.Union([Type.String(), Type.Null()], {
      description: 'Origin (scheme://host[:port]) of the page or frame read from the browser; never a full URL',
    }),
    field: Type.Union([Type.String(), Type.Null()], { description: 'The requested field (fill)' }),
    item_id: Type.Union([Type.String(), Type.Null()], { description: 'The 1Password item chosen, when one was' }),
    outcome: Type.Union([Type.Literal('ok'), Type.Literal('refused'), Type.Literal('failed')]),
    reason: Type.Union([Type.String(), Type.Null()], { description: 'Refusal reason code or failure kind' }),
  },
  { additionalProperties: false, $id: 'AuditEvent', title: 'AuditEvent' },
);
export type AuditEvent = Static<typeof AuditEvent>;

export const AuditEventList = Type.Object(
  { total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer(), events: Type.Array(ref(AuditEvent)) },
  { $id: 'AuditEventList', title: 'AuditEventList', additionalProperties: false },
);
export type AuditEventList = Static<typeof AuditEventList>;

/** The named schemas of this module, added to the app by its routes. */
export const AUDIT_SCHEMAS = [AuditEvent, AuditEventList];
