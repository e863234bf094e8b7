/**
 * The per-instance store that takes over while Redis is down. Each instance then limits on its
 * own (N instances allow up to N × the budget), which is the price of never failing a request
 * on the limiter. Memory is bounded: arrival times and strikes live in LRU maps.
 *
 * Strikes are not split between the stores: memory follows the strikes Redis answered with
 * (`follow`), so a round memory decides counts on from them, and Redis counts on from what
 * memory counted on its own (`known`, passed to Redis with every check).
 */
import { LruMap } from "../lib/lru.ts";
import {
  allowedResult, gcra, limitedResult, LIFT_TOMBSTONE_MS, type Bucket, type HitResult, type LimitStore, type Strike, type StrikeRule,
  type StrikeState, type SyncedBan,
} from "./store.ts";

export interface MemoryStore extends LimitStore {
  /** Memory always answers. */
  hit(subjects: readonly string[], buckets: readonly Bucket[], now: number, strikes: StrikeRule): Promise<HitResult>;
  /**
   * Replaces the known bans with PostgreSQL's list (the ban sync); `until` null: permanent. A ban
   * this instance lifted after the list was read (its row or an older one) is left out.
   */
  replaceBans(bans: ReadonlyMap<string, SyncedBan>): void;
  /** This instance's strikes of `subject`: what it counted itself or last heard from Redis. */
  known(subject: string): StrikeState | undefined;
  /**
   * Takes in an answer from Redis: a refusal's strikes (Redis counted on from the higher of its
   * own and ours), and a ban, after which the strikes from before it no longer count.
   */
  follow(result: HitResult): void;
  readonly subjects: number;
}

export function createMemoryStore(maxSubjects: number): MemoryStore {
  const tats = new LruMap<number>(maxSubjects);
  const strikes = new LruMap<StrikeState>(maxSubjects);
  let bans = new Map<string, number | null>();
  // Lifts made here: subject → the lifted row and when (see replaceBans). Bounded like the rest.
  const lifted = new LruMap<{ id: number; at: number }>(maxSubjects);
  const liftedBefore = (subject: string, id: number) => {
    const lift = lifted.peek(subject);
    return lift !== undefined && lift.id >= id && Date.now() - lift.at < LIFT_TOMBSTONE_MS;
  };

  function strike(subject: string, now: number, rule: StrikeRule): Strike {
    const state = strikes.get(subject) ?? { last: -Infinity, count: 0, since: now };
    if (now - state.since >= rule.windowMs) { state.count = 0; state.since = now; }
    if (now - state.last < rule.spacingMs) return { counted: false, ...state };
    state.count += 1;
    state.last = now;
    strikes.set(subject, state);
    return { counted: true, ...state };
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
    async copyBan(subject: string, until: number | null, _now: number, banId: number): Promise<boolean> {
      if (liftedBefore(subject, banId)) return false;
      bans.set(subject, until);
      return true;
    },
    async unban(subject: string, bucketKeys: readonly string[], _now: number, _rule: StrikeRule, liftedBanId?: number): Promise<boolean> {
      if (liftedBanId !== undefined && !liftedBefore(subject, liftedBanId)) lifted.set(subject, { id: liftedBanId, at: Date.now() });
      bans.delete(subject);
      for (const key of bucketKeys) tats.delete(key);
      strikes.delete(subject);
      return true;
    },
    async relift(): Promise<boolean> {
      return true; // replaceBans already leaves out what PostgreSQL no longer lists
    },
    replaceBans(next: ReadonlyMap<string, SyncedBan>) {
      const kept = new Map<string, number | null>();
      for (const [subject, ban] of next) if (!liftedBefore(subject, ban.id)) kept.set(subject, ban.until);
      bans = kept;
    },
    known(subject: string): StrikeState | undefined {
      return strikes.peek(subject);
    },
    follow(result: HitResult) {
      if (result.kind === "limited") {
        const { last, count, since } = result.strike;
        strikes.set(result.subject, { last, count, since });
      } else if (result.kind === "banned") {
        strikes.delete(result.subject);
      }
    },
  };
}
