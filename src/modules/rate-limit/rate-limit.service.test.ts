import { describe, expect, it } from 'vitest';
import { type CounterStore, createRateLimiter, type Increment, type RateLimiter } from './rate-limit.service.js';

/** The shared table, in memory; `failing` makes every call reject as an unreachable database does. */
function memoryStore() {
  const rows = new Map<string, number>();
  const store = {
    failing: false,
    writes: 0,
    rows,
    async add(increments: Increment[]) {
      if (store.failing) throw new Error('connect ECONNREFUSED');
      store.writes++;
      for (const i of increments) rows.set(`${i.bucket}|${i.windowStart}`, (rows.get(`${i.bucket}|${i.windowStart}`) ?? 0) + i.count);
    },
    async read(buckets: string[], windowStarts: string[]) {
      if (store.failing) throw new Error('connect ECONNREFUSED');
      const out: Increment[] = [];
      for (const bucket of buckets)
        for (const windowStart of windowStarts) {
          const count = rows.get(`${bucket}|${windowStart}`);
          if (count !== undefined) out.push({ bucket, windowStart, count });
        }
      return out;
    },
    async purgeBefore(windowStart: string) {
      for (const key of rows.keys()) if ((key.split('|')[1] ?? '') < windowStart) rows.delete(key);
    },
  } satisfies CounterStore & Record<string, unknown>;
  return store;
}

const WINDOW = 60_000;
// Two minutes into an hour: window boundaries fall on whole minutes.
const T0 = Date.UTC(2026, 0, 1, 12, 2, 0);

function clock(start = T0) {
  const c = { t: start, now: () => c.t };
  return c;
}

async function takeMany(limiter: RateLimiter, bucket: string, n: number) {
  let admitted = 0;
  let lastRetry: number | undefined;
  for (let i = 0; i < n; i++) {
    const wait = await limiter.take(bucket);
    if (wait === undefined) admitted++;
    else lastRetry = wait;
  }
  return { admitted, lastRetry };
}

describe('rate limiter', () => {
  it('admits exactly `limit` requests in a window, then answers how long to wait', async () => {
    const c = clock();
    const limiter = createRateLimiter(memoryStore(), { limit: 10, windowMs: WINDOW, syncIntervalMs: 1000 }, { now: c.now });
    expect(await takeMany(limiter, 'key:a', 25)).toEqual({ admitted: 10, lastRetry: 60 });
    // Other credentials are counted apart.
    expect((await takeMany(limiter, 'key:b', 3)).admitted).toBe(3);
    c.t += 30_000;
    // Full this window: the wait runs into the next one, until this window's weight has dropped below the limit.
    expect(await limiter.take('key:a')).toBe(30);
    await limiter.close();
  });

  it('slides: half-way through the next window, half of the previous window still counts', async () => {
    const c = clock();
    const store = memoryStore();
    const limiter = createRateLimiter(store, { limit: 100, windowMs: WINDOW, syncIntervalMs: 1000 }, { now: c.now });
    expect((await takeMany(limiter, 'key:a', 100)).admitted).toBe(100);
    c.t += WINDOW + WINDOW / 2;
    expect((await takeMany(limiter, 'key:a', 100)).admitted).toBe(50);
    await limiter.sync();
    // Both windows reached the shared table.
    expect([...store.rows.values()]).toEqual([100, 50]);
    await limiter.close();
  });

  it('is shared: an instance learns what the others counted at its next sync', async () => {
    const c = clock();
    const store = memoryStore();
    const settings = { limit: 30, windowMs: WINDOW, syncIntervalMs: 1000 };
    const a = createRateLimiter(store, settings, { now: c.now });
    const b = createRateLimiter(store, settings, { now: c.now });
    expect((await takeMany(a, 'key:k', 20)).admitted).toBe(20);
    await a.sync();
    await b.sync();
    // b has never seen the key: its first request waits for a sync, which brings a's 20.
    expect((await takeMany(b, 'key:k', 20)).admitted).toBe(10);
    await b.sync();
    // a has not synced the key for over three intervals: it learns b's counts before deciding.
    c.t += 3500;
    expect(await a.take('key:k')).toBeGreaterThan(0);
    expect(await b.take('key:k')).toBeGreaterThan(0);
    expect(store.rows.get(`key:k|${new Date(T0).toISOString()}`)).toBe(30);
    await a.close();
    await b.close();
  });

  it('without syncs each instance admits at most `limit`: the overshoot is bounded by (instances - 1) x limit', async () => {
    const c = clock();
    const store = memoryStore();
    store.failing = true;
    const settings = { limit: 10, windowMs: WINDOW, syncIntervalMs: 1000 };
    const limiters = [0, 1, 2].map(() => createRateLimiter(store, settings, { now: c.now }));
    const admitted = await Promise.all(limiters.map(async (l) => (await takeMany(l, 'key:k', 50)).admitted));
    expect(admitted).toEqual([10, 10, 10]);
    for (const l of limiters) await l.close();
  });

  it('keeps counting while the database is away, reports it once, and writes the counts when it returns', async () => {
    const c = clock();
    const store = memoryStore();
    const errors: Error[] = [];
    const limiter = createRateLimiter(
      store,
      { limit: 100, windowMs: WINDOW, syncIntervalMs: 1000 },
      { now: c.now, onSyncError: (e) => errors.push(e) },
    );
    store.failing = true;
    expect((await takeMany(limiter, 'key:a', 5)).admitted).toBe(5);
    await limiter.sync();
    await limiter.sync();
    expect(errors).toHaveLength(1);
    expect((await takeMany(limiter, 'key:a', 5)).admitted).toBe(5);
    // The window turns while the database is still away; those counts must not be lost either.
    c.t += WINDOW;
    expect((await takeMany(limiter, 'key:a', 2)).admitted).toBe(2);
    await limiter.sync();
    store.failing = false;
    await limiter.sync();
    expect(store.rows.get(`key:a|${new Date(T0).toISOString()}`)).toBe(10);
    expect(store.rows.get(`key:a|${new Date(T0 + WINDOW).toISOString()}`)).toBe(2);
    await limiter.close();
  });

  it('writes nothing per request: one batched write per sync, whatever the number of requests', async () => {
    const c = clock();
    const store = memoryStore();
    const limiter = createRateLimiter(store, { limit: 1_000_000, windowMs: WINDOW, syncIntervalMs: 1000 }, { now: c.now });
    for (let i = 0; i < 7; i++) await limiter.take(`key:${i}`); // a credential's first request waits for one sync
    await limiter.sync();
    const before = store.writes;
    for (let i = 0; i < 10_000; i++) await limiter.take(`key:${i % 7}`);
    await limiter.sync();
    expect(store.writes - before).toBe(1);
    await limiter.close();
  });

  it('forgets windows that are over', async () => {
    const c = clock();
    const store = memoryStore();
    const limiter = createRateLimiter(store, { limit: 10, windowMs: WINDOW, syncIntervalMs: 1000 }, { now: c.now });
    await limiter.take('key:a');
    await limiter.sync();
    c.t += 5 * WINDOW;
    await limiter.take('key:b');
    await limiter.sync();
    expect([...store.rows.keys()]).toEqual([`key:b|${new Date(T0 + 5 * WINDOW).toISOString()}`]);
    await limiter.close();
  });

  it('limit 0 turns it off', async () => {
    const store = memoryStore();
    const limiter = createRateLimiter(store, { limit: 0, windowMs: WINDOW, syncIntervalMs: 1000 });
    expect((await takeMany(limiter, 'key:a', 1000)).admitted).toBe(1000);
    await limiter.close();
    expect(store.writes).toBe(0);
  });
});
