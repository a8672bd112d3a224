// The fill logic as a library, for a runner that holds a Playwright Page: the same functions the
// HTTP routes run after connecting over CDP.

export { createFillModule, type FillModuleDeps } from './fill.module.js';
export {
  BrowserError,
  type FillAnswer,
  type FillGuard,
  type FillOptions,
  type FillReport,
  type FillRequest,
  type ListSecretsAnswer,
  type SecretFieldInfo,
  type SecretSource,
} from './fill.types.js';
export { fillSecretAt, listSecrets } from './page-fill.js';
export { REFUSAL_REASONS, type Refusal, type RefusalReason } from './refusals.js';
export { currentTotpCode, parseTotp } from './totp.js';
export { createFieldCache, type FieldCache, vaultSecretSource } from './vault-source.js';
