// Wire schemas of /api/v2/vaults/{vault_id}/grants.
import { type Static, Type } from '@sinclair/typebox';
import { ref } from '../../http/schemas.js';
import { UUID_PARAM } from '../../http/validation.js';
import { cdpEndpointSchema, targetIdSchema } from '../fill/fill.schemas.js';

export const MAX_GRANT_SECONDS = 24 * 60 * 60;

// Unknown keys are refused here (unlike the vault bodies): a misspelt `allowed_domains` must not
// silently mint a grant for every domain.
export const CreateGrantBody = Type.Object(
  {
    expires_in: Type.Integer({ minimum: 60, maximum: MAX_GRANT_SECONDS, description: 'Lifetime in seconds (60 to 86400)' }),
    allowed_domains: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
        minItems: 1,
        maxItems: 100,
        description:
          'Host names the grant may fill on; each also allows its subdomains (example.com allows login.example.com). Leave out for any domain',
      }),
    ),
    max_fills: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'How many values the grant may fill in all' })),
    cdp_endpoint: Type.Optional(
      cdpEndpointSchema(
        'Binds the grant to this browser (its DevTools endpoint, checked against SESAME_CDP_ALLOW now): its list-secrets and fill act on it without naming it, any other endpoint is refused, and it can be used over MCP. Leave out for a grant whose requests name their browser',
      ),
    ),
    target_id: Type.Optional(
      targetIdSchema('Binds the grant to one page (CDP target id) of the browser at cdp_endpoint; needs cdp_endpoint'),
    ),
  },
  { $id: 'GrantCreateRequest', title: 'GrantCreateRequest', additionalProperties: false },
);
export type CreateGrantBody = Static<typeof CreateGrantBody>;

export const GrantParams = Type.Object({
  vault_id: Type.String({ format: 'uuid', [UUID_PARAM]: true, description: 'Vault id (UUID)' }),
  grant_id: Type.String({ format: 'uuid', [UUID_PARAM]: true, description: 'Grant id (UUID)' }),
});
export type GrantParams = Static<typeof GrantParams>;

const grantProperties = {
  id: Type.String({ format: 'uuid' }),
  org_id: Type.String({ format: 'uuid' }),
  vault_id: Type.String({ format: 'uuid' }),
  created_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  allowed_domains: Type.Union([Type.Array(Type.String()), Type.Null()]),
  max_fills: Type.Union([Type.Integer(), Type.Null()]),
  fills_used: Type.Integer(),
  revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked'), Type.Literal('exhausted')]),
  cdp_endpoint: Type.Union([Type.String(), Type.Null()], { description: 'The browser the grant is bound to; null = unbound' }),
  target_id: Type.Union([Type.String(), Type.Null()], { description: 'The page of that browser the grant is bound to, if one' }),
};

export const Grant = Type.Object(grantProperties, { additionalProperties: false, $id: 'Grant', title: 'Grant' });
export type Grant = Static<typeof Grant>;

export const CreatedGrant = Type.Object(
  {
    ...grantProperties,
    grant: Type.String({
      description: 'The grant (sesame_gr_…), a bearer credential for list-secrets and fill on this vault. Shown only in this answer',
    }),
  },
  { $id: 'GrantCreated', title: 'GrantCreated', additionalProperties: false },
);
export type CreatedGrant = Static<typeof CreatedGrant>;

export const GrantList = Type.Object(
  { total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer(), grants: Type.Array(ref(Grant)) },
  { $id: 'GrantList', title: 'GrantList', additionalProperties: false },
);
export type GrantList = Static<typeof GrantList>;

/** The named schemas of this module, added to the app by its routes. */
export const GRANT_SCHEMAS = [CreateGrantBody, Grant, CreatedGrant, GrantList];
