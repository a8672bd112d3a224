// Organizations, API keys, and who is calling: the authentication hook of /api/v2.
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Tables } from '../../db/schema.js';
import { type AuthHookOptions, registerAuthentication } from './auth.hook.js';
import { createAuthRepo } from './auth.repo.js';
import { createAuthService } from './auth.service.js';

export type { GrantAuthenticator } from './auth.hook.js';
export type { ApiKeyInfo } from './auth.service.js';
export type { BoundBrowser, Caller, Credential, GrantScope } from './caller.js';

export function createAuthModule({ db, onTouchError }: { db: Kysely<Tables>; onTouchError?: (err: Error) => void }) {
  const service = createAuthService({ repo: createAuthRepo(db), onTouchError });
  return {
    service,
    /** Authenticates the routes of `app`'s scope. */
    register: (app: FastifyInstance, options: AuthHookOptions) => registerAuthentication(app, service, options),
  };
}
