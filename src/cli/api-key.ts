import type { Config } from '../config.js';
import type { IssuedApiKey } from '../modules/auth/auth.service.js';
import { type ApiKeyInfo, createAuthModule } from '../modules/auth/index.js';
import { withDatabase } from './runtime.js';

export function createApiKeyCommand(config: Config, orgId: string, name?: string): Promise<IssuedApiKey> {
  return withDatabase(config, ({ db }) => createAuthModule({ db }).service.issueApiKey(orgId, name));
}

/** An org's keys: ids, names, created, last used, revoked. Never a key: it is shown only when issued. */
export function listApiKeysCommand(config: Config, orgId: string): Promise<{ org_id: string; api_keys: ApiKeyInfo[] }> {
  return withDatabase(config, async ({ db }) => ({ org_id: orgId, api_keys: await createAuthModule({ db }).service.listApiKeys(orgId) }));
}

export function revokeApiKeyCommand(config: Config, id: string): Promise<{ id: string; revoked: true }> {
  return withDatabase(config, async ({ db }) => {
    if (!(await createAuthModule({ db }).service.revokeApiKey(id))) throw new Error(`No API key with id ${id}`);
    return { id, revoked: true };
  });
}
