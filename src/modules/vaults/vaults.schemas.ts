// Wire schemas of /api/v2/vaults. One TypeBox schema gives validation, static types, response
// allow-listing (a field not listed here cannot leave the server) and the OpenAPI document.
import { type Static, Type } from '@sinclair/typebox';
import { FORBIDDEN_MESSAGE, PATTERN_MESSAGE, UUID_PARAM } from '../../http/validation.js';

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

const ProviderName = Type.Literal('onepassword', { description: 'The only provider today; defaults to "onepassword"' });

// Unknown keys are ignored, as the hosted API does.
const ProviderConfigInput = (extra: object = {}) =>
  Type.Object({ provider: Type.Optional(ProviderName), op_vault_id: OpVaultId }, { additionalProperties: true, ...extra });

export const ServiceAccountToken = Type.String({
  description: 'A 1Password service account token (ops_…). Write-only: never returned.',
  writeOnly: true,
});

export const CreateVaultBody = Type.Object(
  { name: VaultName(), provider_config: ProviderConfigInput(), token: ServiceAccountToken },
  { additionalProperties: true },
);
export type CreateVaultBody = Static<typeof CreateVaultBody>;

// Each field may be left out or sent as null (the platform's schema: anyOf [type, null]; its SDKs send
// null for a None/null argument): either way it keeps its current value.
export const UpdateVaultBody = Type.Object(
  {
    name: Type.Optional(Type.Union([VaultName(), Type.Null()])),
    provider_config: Type.Optional(Type.Union([ProviderConfigInput(), Type.Null()])),
    token: Type.Optional(
      Type.Never({ [FORBIDDEN_MESSAGE]: 'The token cannot be changed with PATCH; use PUT /api/v2/vaults/{vault_id}/token' }),
    ),
  },
  { additionalProperties: true },
);
export type UpdateVaultBody = Static<typeof UpdateVaultBody>;

export const RotateTokenBody = Type.Object({ token: ServiceAccountToken }, { additionalProperties: true });
export type RotateTokenBody = Static<typeof RotateTokenBody>;

export const VaultParams = Type.Object({ vault_id: Type.String({ [UUID_PARAM]: true, description: 'Vault id (UUID)' }) });
export type VaultParams = Static<typeof VaultParams>;

export const IdempotencyHeaders = Type.Object(
  { 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) },
  { additionalProperties: true },
);

export const Vault = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    org_id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    provider_config: Type.Object({ provider: Type.Literal('onepassword'), op_vault_id: Type.String() }, { additionalProperties: false }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false, $id: 'Vault' },
);
export type Vault = Static<typeof Vault>;

export const VaultList = Type.Object(
  { total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer(), vaults: Type.Array(Vault) },
  { additionalProperties: false },
);
export type VaultList = Static<typeof VaultList>;

export const VaultHealth = Type.Object(
  { ok: Type.Boolean(), error: Type.Union([Type.String(), Type.Null()]) },
  { additionalProperties: false },
);
export type VaultHealth = Static<typeof VaultHealth>;
