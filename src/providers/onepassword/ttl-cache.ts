// A bounded map whose entries expire: least recently used entries go first when it is full.
// With `sliding`, every read extends an entry's life (idle eviction); otherwise it lives `ttlMs` from when it was set.

export interface TtlCacheOptions {
  ttlMs: number;
  maxEntries: number;
  sliding?: boolean;
  now?: () => number;
}

export class TtlCache<V> {
  // Map order is recency order: the first entry is the least recently used.
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly now: () => number;

  constructor(private readonly options: TtlCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const now = this.now();
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.options.sliding) entry.expiresAt = now + this.options.ttlMs;
    return entry.value;
  }

  set(key: string, value: V): void {
    if (this.options.ttlMs <= 0 || this.options.maxEntries <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + this.options.ttlMs });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.options.maxEntries) break;
      this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Drops every entry whose key starts with `prefix`. */
  deletePrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  /** Drops expired entries; reads do it lazily, this frees memory of keys never read again. */
  sweep(): void {
    const now = this.now();
    for (const [key, entry] of [...this.entries]) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
