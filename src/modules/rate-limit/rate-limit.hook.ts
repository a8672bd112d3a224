// Where the limit meets requests: one onRequest hook on the authenticated routes, after the auth hook.
import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../errors.js';
import type { MetricsRegistry } from '../../metrics.js';
import type { Caller } from '../auth/caller.js';
import type { RateLimiter, RateLimitSettings } from './rate-limit.service.js';

/** The bucket a request counts against: its grant, its API key, or (trusted gateway, no key) its org. */
export function bucketOf({ orgId, credential }: Caller): string {
  if (credential.type === 'grant') return `grant:${credential.id}`;
  if (credential.type === 'gateway') return `org:${orgId}`;
  return `key:${credential.id}`;
}

/** The refusal for a verdict of the limiter: undefined when admitted. */
export function refusalFor(settings: RateLimitSettings, wait: number | undefined): DomainError<'rate_limited'> | undefined {
  if (wait === undefined) return undefined;
  return new DomainError('rate_limited', {
    limit: settings.limit,
    windowSeconds: Math.round(settings.windowMs / 1000),
    retryAfterSeconds: wait,
  });
}

/** Counts each refusal by the kind of credential it refuses, and passes it (or no refusal) on. */
export function countRefusals(metrics?: MetricsRegistry) {
  const refusals = metrics?.counter('sesame_rate_limit_rejections_total', 'Requests refused with 429, by the kind of credential', {
    credential: ['api_key', 'grant', 'gateway'],
  });
  return <R>(caller: Caller, refusal: R | undefined): R | undefined => {
    if (refusal) refusals?.inc({ credential: caller.credential.type });
    return refusal;
  };
}

/**
 * Adds the limit to the authenticated routes of `app`'s scope; register after the auth hook. A
 * refused request is not counted, so a client that waits for Retry-After gets through.
 */
export function registerRateLimit(
  app: FastifyInstance,
  limiter: RateLimiter,
  settings: RateLimitSettings,
  metrics?: MetricsRegistry,
): void {
  if (settings.limit === 0) return;
  const counted = countRefusals(metrics);
  // A callback hook: no promise on the hot path, where the verdict is synchronous.
  app.addHook('onRequest', (request, _reply, done) => {
    const verdict = limiter.take(bucketOf(request.caller));
    const answer = (wait: number | undefined) => counted(request.caller, refusalFor(settings, wait));
    if (verdict instanceof Promise) verdict.then((wait) => done(answer(wait)), done);
    else done(answer(verdict));
  });
}
