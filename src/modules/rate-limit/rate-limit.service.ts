// Requests per credential (API key, grant) per window, shared by every instance on one database
// without new infrastructure and without a database write per request.
//
// Each instance counts locally and, once per sync interval, adds its new counts to
// `rate_limit_counters` and reads back the totals of every instance. A request is admitted when the
// sliding-window estimate (the previous window's total, weighted by how much of it still overlaps
// the last `window`, plus the current window's total) is below the limit. A credential this instance
// has not synced for a few intervals waits for one sync first (one round trip), so an instance never
// decides on an old view. What it cannot know is what the others admitted since their last sync: the
// shared limit can be exceeded by what the other instances admit in about one sync interval (two at
// most in steady traffic, four after a pause), and never by more than (instances − 1) × limit, since
// each one alone stops at the limit.

export interface RateLimitSettings {
  /** Requests per window per credential; 0 turns limiting off. */
  limit: number;
  windowMs: number;
  /** How often counts are exchanged with the other instances through the database. */
  syncIntervalMs: number;
}

export interface Increment {
  bucket: string;
  windowStart: string;
  count: number;
}

/** Where instances meet: the shared counters. */
export interface CounterStore {
  add(increments: Increment[]): Promise<void>;
  read(buckets: string[], windowStarts: string[]): Promise<Increment[]>;
  purgeBefore(windowStart: string): Promise<void>;
}

export interface RateLimiter {
  /**
   * Counts one request of `bucket`: undefined when admitted, else the seconds after which a retry can
   * succeed. A promise only when the credential has not been synced lately (see STALE_AFTER_SYNCS).
   */
  take(bucket: string): number | undefined | Promise<number | undefined>;
  /** Exchanges counts with the database now (also runs on a timer). */
  sync(): Promise<void>;
  /** Stops the timer and writes what is still unsynced. */
  close(): Promise<void>;
}

interface BucketState {
  window: number;
  /** The shared total of `window` at the last sync, this instance's synced requests included. */
  known: number;
  /** Being written by the sync in progress. */
  inFlight: number;
  /** Admitted here since then. */
  pending: number;
  /** The shared total of the window before. */
  previous: number;
  syncedAt: number;
}

// Rows are written in one statement per batch; well under SQLite's and PostgreSQL's parameter limits.
const BATCH = 500;
// A credential not synced for this many intervals may have been used a lot on other instances meanwhile.
const STALE_AFTER_SYNCS = 3;

export function createRateLimiter(
  store: CounterStore,
  settings: RateLimitSettings,
  { now = Date.now, onSyncError = () => {} }: { now?: () => number; onSyncError?: (err: Error) => void } = {},
): RateLimiter {
  const { limit, windowMs, syncIntervalMs } = settings;
  const buckets = new Map<string, BucketState>();
  let touched = new Set<string>();
  // Requests counted in a window a bucket has since left, still to be written.
  let leftovers: Increment[] = [];
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  let healthy = true;
  let lastPurge = 0;
  let closed = false;

  const windowStart = (window: number) => new Date(window * windowMs).toISOString();

  function roll(state: BucketState, window: number, bucket: string): void {
    const unsynced = state.inFlight + state.pending;
    if (state.pending > 0) leftovers.push({ bucket, windowStart: windowStart(state.window), count: state.pending });
    state.previous = window === state.window + 1 ? state.known + unsynced : 0;
    state.window = window;
    state.known = 0;
    state.inFlight = 0;
    state.pending = 0;
    state.syncedAt = Number.NEGATIVE_INFINITY;
  }

  /** Seconds until the estimate drops below the limit, assuming nobody sends meanwhile. */
  function retryAfter(state: BucketState, at: number): number {
    const current = state.known + state.inFlight + state.pending;
    const start = state.window * windowMs;
    const retryAt =
      current >= limit
        ? start + windowMs + windowMs * (1 - limit / current) // next window, once this one's weight has drained enough
        : start + windowMs * (1 - (limit - current) / state.previous);
    return Math.max(1, Math.ceil((retryAt - at) / 1000));
  }

  function stateOf(bucket: string, at: number): BucketState {
    const window = Math.floor(at / windowMs);
    let state = buckets.get(bucket);
    if (!state) {
      state = { window, known: 0, inFlight: 0, pending: 0, previous: 0, syncedAt: Number.NEGATIVE_INFINITY };
      buckets.set(bucket, state);
    } else if (state.window !== window) {
      roll(state, window, bucket);
    }
    touched.add(bucket);
    return state;
  }

  function decide(state: BucketState, at: number): number | undefined {
    const elapsed = (at - state.window * windowMs) / windowMs;
    const estimate = state.previous * (1 - elapsed) + state.known + state.inFlight + state.pending;
    if (estimate >= limit) return retryAfter(state, at);
    state.pending++;
    return undefined;
  }

  function take(bucket: string): number | undefined | Promise<number | undefined> {
    const at = now();
    const state = stateOf(bucket, at);
    // Not synced lately: the other instances may have counted a lot meanwhile. Learn it first (one round
    // trip, shared by every request waiting for it), unless the database is away: then count locally.
    if (healthy && !closed && at - state.syncedAt > STALE_AFTER_SYNCS * syncIntervalMs) {
      // …but never longer than one sync interval: a locked or slow database must not hold requests.
      return waitAtMost(sync(), syncIntervalMs).then(() => {
        const later = now();
        return decide(stateOf(bucket, later), later);
      });
    }
    return decide(state, at);
  }

  async function exchange(): Promise<void> {
    const startedAt = now();
    const window = Math.floor(startedAt / windowMs);
    const names = [...touched];
    touched = new Set();
    const writes = leftovers;
    leftovers = [];
    // Which bucket state each of this sync's increments was taken from.
    const sources = new Map<Increment, BucketState>();
    for (const bucket of names) {
      const state = buckets.get(bucket);
      if (!state || state.pending === 0) continue;
      const increment = { bucket, windowStart: windowStart(state.window), count: state.pending };
      writes.push(increment);
      sources.set(increment, state);
      state.inFlight += state.pending;
      state.pending = 0;
    }
    // Sorted, so concurrent upserts from several instances lock rows in one order and cannot deadlock.
    writes.sort((a, b) => (a.bucket === b.bucket ? cmp(a.windowStart, b.windowStart) : cmp(a.bucket, b.bucket)));
    let written = 0;
    let failure: unknown;
    try {
      for (; written < writes.length; written += BATCH) await store.add(writes.slice(written, written + BATCH));
    } catch (err) {
      failure = err;
      for (const name of names) touched.add(name);
    }
    // What was not written goes back, to be written with the next sync: nothing is lost while the database is away.
    writes.forEach((increment, i) => {
      const state = sources.get(increment);
      const sameWindow = state !== undefined && windowStart(state.window) === increment.windowStart;
      if (sameWindow) state.inFlight -= increment.count; // else roll() has already moved it into `previous`
      if (i < written) {
        if (sameWindow) state.known += increment.count; // until the read below gives the shared total
        return;
      }
      if (sameWindow) state.pending += increment.count;
      else leftovers.push(increment);
    });
    if (failure) throw failure;

    const current = windowStart(window);
    const previous = windowStart(window - 1);
    const totals = new Map<string, { current: number; previous: number }>();
    for (let i = 0; i < names.length; i += BATCH) {
      for (const row of await store.read(names.slice(i, i + BATCH), [current, previous])) {
        const entry = totals.get(row.bucket) ?? { current: 0, previous: 0 };
        if (row.windowStart === current) entry.current = row.count;
        else entry.previous = row.count;
        totals.set(row.bucket, entry);
      }
    }
    for (const bucket of names) {
      const state = buckets.get(bucket);
      if (!state || state.window !== window) continue; // the window turned meanwhile; the next sync catches up
      const total = totals.get(bucket) ?? { current: 0, previous: 0 };
      state.known = total.current;
      state.previous = total.previous;
      state.syncedAt = startedAt;
    }

    // Forget buckets idle for two windows, here and in the database.
    for (const [bucket, state] of buckets) {
      if (state.window < window - 1 && state.pending === 0 && state.inFlight === 0) buckets.delete(bucket);
    }
    if (startedAt - lastPurge >= Math.max(windowMs, 60_000)) {
      lastPurge = startedAt;
      await store.purgeBefore(windowStart(window - 2));
    }
  }

  /** Starts a sync now, or right after the one running (which may have missed what was just counted). */
  function sync(): Promise<void> {
    if (running) {
      queued ??= running.then(() => {
        queued = undefined;
        return sync();
      });
      return queued;
    }
    running = exchange()
      .then(
        () => {
          healthy = true;
        },
        (err: Error) => {
          // Reported once per outage; meanwhile the timer alone retries and requests are counted locally.
          if (healthy) onSyncError(err);
          healthy = false;
        },
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  if (limit === 0) {
    return { take: () => undefined, sync: async () => {}, close: async () => {} };
  }
  const timer = setInterval(() => {
    if (!running) void sync();
  }, syncIntervalMs);
  timer.unref();
  return {
    take,
    sync,
    async close() {
      closed = true;
      clearInterval(timer);
      await (queued ?? running);
      // A last write, unless the database is away (shutdown should not wait for its deadline).
      if (healthy) await sync();
    },
  };
}

/** Resolves when `work` settles or after `ms`, whichever comes first (`work` goes on either way). */
function waitAtMost(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
