// The counters instances share through the database: one row per credential and window.
import type { Kysely } from 'kysely';
import type { Tables } from '../../db/schema.js';
import type { CounterStore } from './rate-limit.service.js';

export function createCounterStore(db: Kysely<Tables>): CounterStore {
  return {
    async add(increments) {
      if (increments.length === 0) return;
      await db
        .insertInto('rate_limit_counters')
        .values(increments.map((i) => ({ bucket: i.bucket, window_start: i.windowStart, count: i.count })))
        .onConflict((oc) =>
          oc
            .columns(['bucket', 'window_start'])
            .doUpdateSet((eb) => ({ count: eb('rate_limit_counters.count', '+', eb.ref('excluded.count')) })),
        )
        .execute();
    },
    async read(buckets, windowStarts) {
      if (buckets.length === 0) return [];
      const rows = await db
        .selectFrom('rate_limit_counters')
        .select(['bucket', 'window_start', 'count'])
        .where('bucket', 'in', buckets)
        .where('window_start', 'in', windowStarts)
        .execute();
      return rows.map((r) => ({ bucket: r.bucket, windowStart: r.window_start, count: Number(r.count) }));
    },
    async purgeBefore(windowStart) {
      await db.deleteFrom('rate_limit_counters').where('window_start', '<', windowStart).execute();
    },
  };
}
