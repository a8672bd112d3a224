import type { Config } from '../config.js';
import type { IssuedApiKey } from '../modules/auth/auth.service.js';
import { createAuthModule } from '../modules/auth/index.js';
import { withDatabase } from './runtime.js';

export function createApiKeyCommand(config: Config, orgId: string, name?: string): Promise<IssuedApiKey> {
  return withDatabase(config, ({ db }) => createAuthModule({ db }).service.issueApiKey(orgId, name));
}

export function revokeApiKeyCommand(config: Config, id: string): Promise<{ id: string; revoked: true }> {
  return withDatabase(config, async ({ db }) => {
    if (!(await createAuthModule({ db }).service.revokeApiKey(id))) throw new Error(`No API key with id ${id}`);
    return { id, revoked: true };
  });
}
