import type { Config } from '../config.js';
import { createAuthModule } from '../modules/auth/index.js';
import { withDatabase } from './runtime.js';

export function listOrgsCommand(config: Config): Promise<{ organizations: { id: string; name: string; created_at: string }[] }> {
  return withDatabase(config, async ({ db }) => ({
    organizations: (await createAuthModule({ db }).service.listOrganizations()).map(({ id, name, created_at }) => ({
      id,
      name,
      created_at,
    })),
  }));
}

export function createOrgCommand(config: Config, name: string): Promise<{ id: string; name: string }> {
  return withDatabase(config, async ({ db }) => {
    const org = await createAuthModule({ db }).service.createOrganization(name);
    return { id: org.id, name: org.name };
  });
}
