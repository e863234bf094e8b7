/**
 * The in-process tier: a bounded LRU (lib/lru.ts) with a TTL per entry. An expired entry stays
 * until the LRU bound pushes it out: `stale` still reads it, so a redirect can be answered from
 * it while PostgreSQL is down (invalidation, not the TTL, is what removes a changed answer).
 */
import { LruMap } from "../lib/lru.ts";

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
  const entries = new LruMap<Entry<V>>(opts.maxEntries);
  const now = opts.now ?? Date.now;

  return {
    /** The live value, or undefined on a miss (absent or expired). */
    get(key: string): V | undefined {
      const entry = entries.get(key);
      if (entry === undefined || entry.expiresAt <= now()) return undefined;
      return entry.value;
    },

    /** The value even past its TTL (until evicted or deleted): the answer of last resort. */
    stale(key: string): V | undefined {
      return entries.get(key)?.value;
    },

    set(key: string, value: V, ttlMs: number): void {
      entries.set(key, { value, expiresAt: now() + ttlMs });
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
