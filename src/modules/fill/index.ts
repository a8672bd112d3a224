// The fill logic as a library, for a runner that holds a Playwright Page: the same functions the
// HTTP routes run after connecting over CDP.
export {
  BrowserError,
  type FillAnswer,
  type FillGuard,
  type FillOptions,
  type FillReport,
  type FillRequest,
  fillSecretAt,
  type ListSecretsAnswer,
  listSecrets,
  type Refusal,
  type RefusalReason,
  type SecretFieldInfo,
  type SecretSource,
} from './page-fill.js';
export { currentTotpCode, parseTotp } from './totp.js';
export { createFieldCache, type FieldCache, vaultSecretSource } from './vault-source.js';
