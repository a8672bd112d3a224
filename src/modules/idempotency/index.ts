// Idempotency-Key records: a retried create or rotation replays the first answer. Records past
// their lifetime are purged every 10 minutes.
import type { Kysely } from 'kysely';
import type { Tables } from '../../db/schema.js';
import { createIdempotencyStore } from './idempotency.store.js';

export { type Completion, type IdempotencyStore, requestFingerprint, type StoredResponse } from './idempotency.store.js';

const PURGE_INTERVAL_MS = 10 * 60 * 1000;

export interface IdempotencyModuleDeps {
  db: Kysely<Tables>;
  ttlMs: number;
  onPurgeError?: (err: Error) => void;
}

export function createIdempotencyModule({ db, ttlMs, onPurgeError = () => {} }: IdempotencyModuleDeps) {
  const store = createIdempotencyStore(db, { ttlMs });
  const purge = setInterval(() => {
    store.purgeExpired().catch(onPurgeError);
  }, PURGE_INTERVAL_MS);
  purge.unref();
  return { store, close: async () => clearInterval(purge) };
}
