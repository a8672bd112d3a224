// Wire schemas of /api/v2/vaults. One TypeBox schema gives validation, static types, response
// allow-listing (a field not listed here cannot leave the server) and the OpenAPI document.
import { type Static, Type } from '@sinclair/typebox';
import { ref } from '../../http/schemas.js';
import { FORBIDDEN_PROPERTIES, PATTERN_MESSAGE, UUID_PARAM } from '../../http/validation.js';

const VaultName = (extra: object = {}) =>
  Type.String({
    minLength: 1,
    maxLength: 255,
    // A visible character, and no control characters or lone surrogates (PostgreSQL cannot store NUL).
    pattern: '^(?=.*\\S)[^\\u0000-\\u001F\\u007F-\\u009F\\uD800-\\uDFFF]*$',
    [PATTERN_MESSAGE]: 'Value error, name cannot be only white space or contain control characters',
    description: 'Unique within the organization; 1–255 characters, not only white space',
    ...extra,
  });

const OpVaultId = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: '^[^\\s\\u0000-\\u001F\\u007F-\\u009F\\uD800-\\uDFFF]+$',
  [PATTERN_MESSAGE]: 'Value error, op_vault_id cannot contain white space or control characters',
  description: 'The 1Password vault to read',
});

const ProviderName = Type.Literal('onepassword', {
  default: 'onepassword',
  description: 'The only provider today; defaults to "onepassword"',
});

// One schema for the request and the answer, as the platform's model is: unknown keys are ignored on
// the way in (no additionalProperties keyword: Ajv lets them through) and dropped on the way out
// (response serialization writes only the listed properties).
export const OnePasswordConfig = Type.Object(
  { provider: Type.Optional(ProviderName), op_vault_id: OpVaultId },
  { $id: 'OnePasswordConfig', title: 'OnePasswordConfig' },
);
export type OnePasswordConfig = Static<typeof OnePasswordConfig>;

export const ServiceAccountToken = Type.String({
  description: 'A 1Password service account token (ops_…). Write-only: never returned.',
  writeOnly: true,
});

export const CreateVaultBody = Type.Object(
  { name: VaultName(), provider_config: ref(OnePasswordConfig), token: ServiceAccountToken },
  { $id: 'VaultCreateRequest', title: 'VaultCreateRequest', additionalProperties: true },
);
export type CreateVaultBody = Static<typeof CreateVaultBody>;

// Each field may be left out or sent as null (the platform's schema: anyOf [type, null]; its SDKs send
// null for a None/null argument): either way it keeps its current value. A token is refused by name,
// outside the properties, so that generated clients get no `token` field on an update.
export const UpdateVaultBody = Type.Object(
  {
    name: Type.Optional(Type.Union([VaultName(), Type.Null()])),
    provider_config: Type.Optional(Type.Union([ref(OnePasswordConfig), Type.Null()])),
  },
  {
    $id: 'VaultUpdateRequest',
    title: 'VaultUpdateRequest',
    additionalProperties: true,
    [FORBIDDEN_PROPERTIES]: { token: 'The token cannot be changed with PATCH; use PUT /api/v2/vaults/{vault_id}/token' },
  },
);
export type UpdateVaultBody = Static<typeof UpdateVaultBody>;

export const RotateTokenBody = Type.Object(
  { token: ServiceAccountToken },
  { $id: 'VaultTokenRotateRequest', title: 'VaultTokenRotateRequest', additionalProperties: true },
);
export type RotateTokenBody = Static<typeof RotateTokenBody>;

export const VaultParams = Type.Object({
  vault_id: Type.String({ format: 'uuid', [UUID_PARAM]: true, description: 'Vault id (UUID)' }),
});
export type VaultParams = Static<typeof VaultParams>;

export const IdempotencyHeaders = Type.Object(
  {
    'idempotency-key': Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description: 'Makes a retry safe: the same key with the same body within 24 hours replays the first answer',
      }),
    ),
  },
  { additionalProperties: true },
);

export const Vault = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    org_id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    provider_config: ref(OnePasswordConfig),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'VaultConfigRead', title: 'VaultConfigRead', additionalProperties: false },
);
export type Vault = Static<typeof Vault>;

export const VaultList = Type.Object(
  { total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer(), vaults: Type.Array(ref(Vault)) },
  { $id: 'VaultConfigList', title: 'VaultConfigList', additionalProperties: false },
);
export type VaultList = Static<typeof VaultList>;

export const VaultHealth = Type.Object(
  { ok: Type.Boolean(), error: Type.Union([Type.String(), Type.Null()]) },
  { $id: 'VaultHealth', title: 'VaultHealth', additionalProperties: false },
);
export type VaultHealth = Static<typeof VaultHealth>;

/** The named schemas of this module, added to the app by its routes. */
export const VAULT_SCHEMAS = [OnePasswordConfig, CreateVaultBody, UpdateVaultBody, RotateTokenBody, Vault, VaultList, VaultHealth];
