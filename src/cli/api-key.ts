import type { Config } from '../config.js';
import { createAuthRepo } from '../modules/auth/auth.repo.js';
import { createAuthService, type IssuedApiKey } from '../modules/auth/auth.service.js';
import { withDatabase } from './runtime.js';

export function createApiKeyCommand(config: Config, orgId: string, name?: string): Promise<IssuedApiKey> {
  return withDatabase(config, ({ db }) => createAuthService({ repo: createAuthRepo(db) }).issueApiKey(orgId, name));
}

export function revokeApiKeyCommand(config: Config, id: string): Promise<{ id: string; revoked: true }> {
  return withDatabase(config, async ({ db }) => {
    if (!(await createAuthService({ repo: createAuthRepo(db) }).revokeApiKey(id))) throw new Error(`No API key with id ${id}`);
    return { id, revoked: true };
  });
}
