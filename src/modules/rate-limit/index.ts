// Requests per credential per window, counted per instance and shared through the database.
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Tables } from '../../db/schema.js';
import type { MetricsRegistry } from '../../metrics.js';
import type { Caller } from '../auth/caller.js';
import { bucketOf, countRefusals, refusalFor, registerRateLimit } from './rate-limit.hook.js';
import { createCounterStore } from './rate-limit.repo.js';
import { createRateLimiter, type RateLimitSettings } from './rate-limit.service.js';

export type { RateLimitSettings } from './rate-limit.service.js';

export interface RateLimitModuleDeps {
  db: Kysely<Tables>;
  settings: RateLimitSettings;
  /** Told once per database outage that the counters could not be synced. */
  onSyncError?: (err: Error) => void;
  /** Where refused requests are counted. */
  metrics?: MetricsRegistry;
}

export function createRateLimitModule({ db, settings, onSyncError, metrics }: RateLimitModuleDeps) {
  const limiter = createRateLimiter(createCounterStore(db), settings, { onSyncError });
  const counted = countRefusals(metrics);
  return {
    limiter,
    /** Limits the routes of `app`'s scope; register after the auth hook. */
    register: (app: FastifyInstance) => registerRateLimit(app, limiter, settings, metrics),
    /** Counts one request of `caller` outside those routes (an MCP tool call); throws `rate_limited` when over the limit. */
    async admit(caller: Caller): Promise<void> {
      const refusal = counted(caller, refusalFor(settings, await limiter.take(bucketOf(caller))));
      if (refusal) throw refusal;
    },
    /** Writes what is still unsynced. */
    close: () => limiter.close(),
  };
}
