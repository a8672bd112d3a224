// Wire schemas of the two agent actions: POST /api/v2/vaults/{vault_id}/list-secrets and /fill.
import { type Static, Type } from '@sinclair/typebox';
import { PATTERN_MESSAGE } from '../../http/validation.js';
import { FIELD_KINDS } from '../../providers/provider.js';
import { REFUSAL_REASONS } from './refusals.js';

/** A browser's DevTools endpoint, as the fill routes and grants take it (`description` says what it is for there). */
export const cdpEndpointSchema = (description: string) =>
  Type.String({
    minLength: 1,
    maxLength: 2048,
    pattern: '^(?:[Hh][Tt][Tt][Pp][Ss]?|[Ww][Ss][Ss]?)://',
    [PATTERN_MESSAGE]: 'Value error, cdp_endpoint must be an http://, https://, ws:// or wss:// URL',
    description,
    examples: ['http://127.0.0.1:9222'],
  });

/** A DevTools target id (one page of a browser). */
export const targetIdSchema = (description: string) =>
  Type.String({
    minLength: 1,
    maxLength: 128,
    pattern: '^[A-Za-z0-9_-]+$',
    [PATTERN_MESSAGE]: 'Value error, target_id must be a DevTools target id',
    description,
  });

const CdpEndpoint = cdpEndpointSchema(
  "The browser's DevTools endpoint: http://host:port (its /json/version is asked for the WebSocket URL) or ws://host:port/devtools/browser/<id>. Must be allowed by SESAME_CDP_ALLOW (default: loopback only). Required, except with a grant bound to a browser: then it may be left out, and any other endpoint is refused",
);

const TargetId = targetIdSchema(
  'The CDP target id of the page to act on; required when the browser has several pages open (a grant bound to one page uses that page)',
);

const RefusalReason = Type.Union(
  REFUSAL_REASONS.map((reason) => Type.Literal(reason)),
  { description: 'Why nothing was filled (or listed); see docs/fill.md' },
);

const FieldName = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F]+$',
  [PATTERN_MESSAGE]: 'Value error, field cannot contain control characters',
  description: 'username, password, totp, or the label of another field (case-insensitive)',
});

// Unknown keys are refused: a misspelt `account` must not silently fill another account.
export const ListSecretsBody = Type.Object(
  { cdp_endpoint: CdpEndpoint, target_id: Type.Optional(TargetId) },
  { $id: 'ListSecretsRequest', title: 'ListSecretsRequest', additionalProperties: false },
);
export type ListSecretsBody = Static<typeof ListSecretsBody>;

const Coordinate = Type.Number({ minimum: 0, maximum: 100_000, description: 'Viewport coordinate in CSS pixels' });

export const FillBody = Type.Object(
  {
    cdp_endpoint: CdpEndpoint,
    target_id: Type.Optional(TargetId),
    x: Coordinate,
    y: Coordinate,
    field: FieldName,
    account: Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, description: 'A username that picks among items tied for this page' }),
    ),
  },
  { $id: 'FillRequest', title: 'FillRequest', additionalProperties: false },
);
export type FillBody = Static<typeof FillBody>;

export const ListSecretsAnswer = Type.Object(
  {
    origin: Type.Union([Type.String(), Type.Null()], { description: 'Origin of the page the browser shows (read from the browser)' }),
    fields: Type.Array(
      Type.Object(
        {
          field: Type.String(),
          kind: Type.Union(FIELD_KINDS.map((kind) => Type.Literal(kind))),
          ambiguous: Type.Boolean({ description: 'Several items tie for this field; the fill picks one deterministically, or by account' }),
          tied_count: Type.Optional(Type.Integer({ description: 'How many items tie (only when ambiguous)' })),
        },
        { additionalProperties: false },
      ),
    ),
    reason: Type.Optional(RefusalReason),
    detail: Type.Optional(Type.String()),
  },
  {
    $id: 'ListSecretsResult',
    title: 'ListSecretsResult',
    additionalProperties: false,
    description: 'Fillable fields, or (with reason and detail) a refusal. Never a value',
  },
);

export const FillAnswer = Type.Object(
  {
    filled: Type.Boolean(),
    field: Type.String(),
    reason: Type.Optional(RefusalReason),
    detail: Type.Optional(Type.String()),
  },
  {
    $id: 'FillResult',
    title: 'FillResult',
    additionalProperties: false,
    description: '{"filled": true} or a refusal with its reason. Never a value',
  },
);

/** The named schemas of this module, added to the app by its routes. */
export const FILL_SCHEMAS = [ListSecretsBody, FillBody, ListSecretsAnswer, FillAnswer];
