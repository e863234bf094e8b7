/**
 * The in-process tier: a bounded LRU with a TTL per entry. A Map keeps insertion order, so
 * re-inserting on a hit makes the first key the least recently used one, and eviction is O(1).
 */

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export interface LruOptions {
  /** Most entries held; the least recently used is dropped past it. */
  maxEntries: number;
  /** Milliseconds; injected by tests so TTLs need no sleeps (default Date.now). */
  now?: () => number;
}

export function createLru<V>(opts: LruOptions) {
  const entries = new Map<string, Entry<V>>();
  const now = opts.now ?? Date.now;

  return {
    /** The live value, or undefined on a miss (absent or expired: an expired entry is dropped). */
    get(key: string): V | undefined {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.expiresAt <= now()) {
        entries.delete(key);
        return undefined;
      }
      entries.delete(key);
      entries.set(key, entry);
      return entry.value;
    },

    set(key: string, value: V, ttlMs: number): void {
      entries.delete(key);
      entries.set(key, { value, expiresAt: now() + ttlMs });
      if (entries.size > opts.maxEntries) {
        // Only one insert happened, so one eviction restores the bound.
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
    },

    delete(key: string): void {
      entries.delete(key);
    },

    clear(): void {
      entries.clear();
    },

    get size(): number {
      return entries.size;
    },
  };
}

export type Lru<V> = ReturnType<typeof createLru<V>>;
