/**
 * The per-instance store that takes over while Redis is down. Each instance then limits on its
 * own (N instances allow up to N × the budget), which is the price of never failing a request
 * on the limiter. Memory is bounded: arrival times and strikes live in LRU maps.
 */
import { LruMap } from "../lib/lru.ts";
import { allowedResult, gcra, limitedResult, type Bucket, type HitResult, type LimitStore, type Strike, type StrikeRule } from "./store.ts";

interface StrikeState { last: number; count: number; since: number }

export interface MemoryStore extends LimitStore {
  /** Memory always answers. */
  hit(subjects: readonly string[], buckets: readonly Bucket[], now: number, strikes: StrikeRule): Promise<HitResult>;
  /** Replaces the known bans with PostgreSQL's list (the ban sync); `until` null: permanent. */
  replaceBans(bans: ReadonlyMap<string, number | null>): void;
  readonly subjects: number;
}

export function createMemoryStore(maxSubjects: number): MemoryStore {
  const tats = new LruMap<number>(maxSubjects);
  const strikes = new LruMap<StrikeState>(maxSubjects);
  let bans = new Map<string, number | null>();

  function strike(subject: string, now: number, rule: StrikeRule): Strike {
    const state = strikes.get(subject) ?? { last: -Infinity, count: 0, since: now };
    if (now - state.since >= rule.windowMs) { state.count = 0; state.since = now; }
    if (now - state.last < rule.spacingMs) return { counted: false, count: state.count };
    state.count += 1;
    state.last = now;
    strikes.set(subject, state);
    return { counted: true, count: state.count };
  }

  return {
    name: "memory",
    get subjects() { return tats.size; },
    async hit(subjects: readonly string[], buckets: readonly Bucket[], now: number, rule: StrikeRule): Promise<HitResult> {
      for (const subject of subjects) {
        const until = bans.get(subject);
        if (until === null || (until !== undefined && until > now)) return { kind: "banned", subject, until };
      }
      const next: number[] = [];
      for (const b of buckets) {
        const step = gcra(b, tats.get(b.key), now);
        if (!step.ok) return limitedResult(b, step.tat, now, strike(b.subject, now, rule));
        next.push(step.tat);
      }
      buckets.forEach((b, i) => tats.set(b.key, next[i]!));
      return allowedResult(buckets, next, now);
    },
    async ban(subject: string, until: number | null): Promise<boolean> {
      bans.set(subject, until);
      strikes.delete(subject);
      return true;
    },
    async copyBan(subject: string, until: number | null): Promise<boolean> {
      bans.set(subject, until);
      return true;
    },
    async unban(subject: string, bucketKeys: readonly string[]): Promise<boolean> {
      bans.delete(subject);
      for (const key of bucketKeys) tats.delete(key);
      strikes.delete(subject);
      return true;
    },
    replaceBans(next: ReadonlyMap<string, number | null>) {
      bans = new Map(next);
    },
  };
}
