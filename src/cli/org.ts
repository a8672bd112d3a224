import type { Config } from '../config.js';
import { createAuthRepo } from '../modules/auth/auth.repo.js';
import { createAuthService } from '../modules/auth/auth.service.js';
import { withDatabase } from './runtime.js';

export function createOrgCommand(config: Config, name: string): Promise<{ id: string; name: string }> {
  return withDatabase(config, async ({ db }) => {
    const org = await createAuthService({ repo: createAuthRepo(db) }).createOrganization(name);
    return { id: org.id, name: org.name };
  });
}
