// Idempotency-Key for create and rotate. The record lives in the database (so it works across
// instances): a pending row claims the key, a finished one replays its answer for 24 hours.
// Only successful answers are kept: a refusal or a 503 releases the key so a corrected retry can run.
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { type InTransaction, isUniqueViolation } from '../../db/database.js';
import type { Tables } from '../../db/schema.js';
import { DomainError } from '../../errors.js';

export interface StoredResponse {
  status: number;
  body: unknown;
}

/**
 * Given to the handler: the write that turns the request's claim into its stored answer. The handler
 * runs it in the transaction of the change it makes, so the change and its record commit together.
 */
export type Completion = (response: StoredResponse) => InTransaction;

export interface IdempotencyOptions {
  ttlMs: number;
  /** A pending claim older than this belongs to a request that died; it can be taken over. */
  abandonAfterMs?: number;
  now?: () => Date;
}

export function createIdempotencyStore(
  db: Kysely<Tables>,
  { ttlMs, abandonAfterMs = 120_000, now = () => new Date() }: IdempotencyOptions,
) {
  /** Inserts a pending claim; its created_at identifies it, or undefined when the key is already claimed. */
  async function claim(orgId: string, key: string, requestHash: string): Promise<string | undefined> {
    const createdAt = now().toISOString();
    try {
      await db
        .insertInto('idempotency_keys')
        .values({
          org_id: orgId,
          key,
          request_hash: requestHash,
          state: 'pending',
          response_status: null,
          response_body: null,
          created_at: createdAt,
        })
        .execute();
      return createdAt;
    } catch (err) {
      if (isUniqueViolation(err)) return undefined;
      throw err;
    }
  }

  /**
   * Releases a failed request's claim so a retry can run at once. If the database refuses now (it is
   * what failed), tries again in the background until the claim would count as abandoned anyway.
   */
  async function releaseSoon(orgId: string, key: string, createdAt: string): Promise<void> {
    const until = Date.now() + abandonAfterMs;
    const attempt = async (delay: number): Promise<void> => {
      try {
        // Only while still pending: a record completed by a committed change is the answer to replay.
        await db
          .deleteFrom('idempotency_keys')
          .where('org_id', '=', orgId)
          .where('key', '=', key)
          .where('created_at', '=', createdAt)
          .where('state', '=', 'pending')
          .execute();
      } catch {
        if (Date.now() + delay >= until) return;
        setTimeout(() => void attempt(Math.min(delay * 2, 5_000)), delay).unref();
      }
    };
    await attempt(250);
  }

  /** The claim becomes the stored answer, inside the change's transaction; a claim since taken over aborts it. */
  function completion(orgId: string, key: string, createdAt: string, done: () => void): Completion {
    return (response) => async (trx) => {
      const result = await trx
        .updateTable('idempotency_keys')
        .set({ state: 'done', response_status: response.status, response_body: JSON.stringify(response.body ?? null) })
        .where('org_id', '=', orgId)
        .where('key', '=', key)
        .where('created_at', '=', createdAt)
        .where('state', '=', 'pending')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) throw new DomainError('idempotency_in_progress');
      done();
    };
  }

  /** Deletes the row only if it is still the one we looked at, so two racing takeovers cannot both win. */
  async function release(orgId: string, key: string, createdAt: string): Promise<void> {
    await db
      .deleteFrom('idempotency_keys')
      .where('org_id', '=', orgId)
      .where('key', '=', key)
      .where('created_at', '=', createdAt)
      .execute();
  }

  async function drop(orgId: string, key: string): Promise<void> {
    await db.deleteFrom('idempotency_keys').where('org_id', '=', orgId).where('key', '=', key).execute();
  }

  async function finish(orgId: string, key: string, response: StoredResponse): Promise<void> {
    await db
      .updateTable('idempotency_keys')
      .set({ state: 'done', response_status: response.status, response_body: JSON.stringify(response.body ?? null) })
      .where('org_id', '=', orgId)
      .where('key', '=', key)
      .execute();
  }

  return {
    /**
     * Runs `handler` at most once per (org, key) and request. Returns the handler's answer, or the stored
     * answer of an earlier identical request (`replayed`).
     */
    async run(
      orgId: string,
      key: string,
      requestHash: string,
      handler: (complete: Completion) => Promise<StoredResponse>,
    ): Promise<StoredResponse & { replayed: boolean }> {
      for (let attempt = 0; attempt < 3; attempt++) {
        const claimedAt = await claim(orgId, key, requestHash);
        if (claimedAt !== undefined) {
          let completed = false;
          let response: StoredResponse;
          try {
            response = await handler(
              completion(orgId, key, claimedAt, () => {
                completed = true;
              }),
            );
          } catch (err) {
            // Nothing was committed (the record commits with the change, or neither does): free the key.
            await releaseSoon(orgId, key, claimedAt);
            throw err;
          }
          // An answer with no change behind it (nothing to write) is recorded on its own.
          if (!completed) {
            if (response.status >= 200 && response.status < 300) await finish(orgId, key, response);
            else await drop(orgId, key);
          }
          return { ...response, replayed: false };
        }
        const existing = await db
          .selectFrom('idempotency_keys')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('key', '=', key)
          .executeTakeFirst();
        if (!existing) continue; // released meanwhile: claim again
        const age = now().getTime() - Date.parse(existing.created_at);
        if (age > ttlMs || (existing.state === 'pending' && age > abandonAfterMs)) {
          await release(orgId, key, existing.created_at);
          continue;
        }
        if (existing.request_hash !== requestHash) {
          throw new DomainError('idempotency_key_reused');
        }
        if (existing.state === 'pending') {
          throw new DomainError('idempotency_in_progress');
        }
        return { status: existing.response_status ?? 200, body: JSON.parse(existing.response_body ?? 'null'), replayed: true };
      }
      throw new DomainError('idempotency_in_progress');
    },

    /** Forgets records past their lifetime; run periodically. */
    async purgeExpired(): Promise<void> {
      const cutoff = new Date(now().getTime() - ttlMs).toISOString();
      await db.deleteFrom('idempotency_keys').where('created_at', '<', cutoff).execute();
    },
  };
}

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;

/**
 * Fingerprint of a request: its route and the fields that decide its effect, in a fixed order
 * (unknown body keys are ignored by the API, so they do not make a request different). The token
 * is hashed with the rest and never stored.
 */
export function requestFingerprint(route: string, fields: unknown[]): string {
  return createHash('sha256')
    .update(JSON.stringify([route, ...fields]))
    .digest('hex');
}
