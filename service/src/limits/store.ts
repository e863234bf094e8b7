/**
 * The limiter's store: Redis (shared by every instance) or this instance's memory (while Redis
 * is down). Both run the same GCRA: a bucket of `limit` requests per `periodMs` refills one
 * request every `periodMs / limit`, kept as one number per subject, the theoretical arrival time.
 * `undefined` from a store means "unavailable now": the caller takes the other store.
 */
export interface Bucket {
  /** Store key of the bucket, e.g. `write:ip:203.0.113.9`. */
  key: string;
  /** Who is charged, e.g. `ip:203.0.113.9` or `key:<sha256>`; strikes and bans are per subject. */
  subject: string;
  limit: number;
  periodMs: number;
}

export type HitResult =
  | { kind: "banned"; subject: string; until: number | null }
  | { kind: "allowed"; limit: number; remaining: number; resetMs: number }
  | { kind: "limited"; subject: string; limit: number; retryAfterMs: number; resetMs: number; strike: Strike };

/** A refusal is a violation: counted at most once per `spacingMs`; the count restarts after `windowMs`. */
export interface StrikeRule { spacingMs: number; windowMs: number }

/**
 * A subject's strikes: `count` counted since `since` (the count restarts `windowMs` after it),
 * the latest at `last`. Both stores keep one per subject. Each instance's memory follows what
 * Redis answered, and Redis takes in what memory counted on its own, so a client's strikes add
 * up whichever store counted each one (see `hit`).
 */
export interface StrikeState { last: number; count: number; since: number }

export interface Strike extends StrikeState {
  /** False when a strike for this subject was counted less than `spacingMs` ago. */
  counted: boolean;
}

/** This instance's strike state of a subject, when it has one (the memory store's). */
export type KnownStrikes = (subject: string) => StrikeState | undefined;

export interface LimitStore {
  readonly name: "redis" | "memory";
  /**
   * Checks every subject's ban, then charges every bucket, or none when one is exhausted; a
   * refusal also counts the refused subject's strike in the same step. One step, so a store that
   * answered with a refusal has counted its strike: none is lost between two calls.
   * `known`: the strikes this instance's memory holds; a store that may have missed some (Redis,
   * after an outage, a restart, or a round memory decided) counts on from the higher of its own
   * and these, unless its own count started later (a ban since then started a new count).
   */
  hit(subjects: readonly string[], buckets: readonly Bucket[], now: number, strikes: StrikeRule, known?: KnownStrikes): Promise<HitResult | undefined>;
  /**
   * Issues a ban; `until` null: permanent. Starts the subject's strikes afresh at `now`: a ban
   * starts a new count, on every instance (strikes an instance knew from before are older).
   */
  ban(subject: string, until: number | null, now: number, strikes: StrikeRule): Promise<boolean | undefined>;
  /**
   * Copies a ban issued before (the sync): the strikes counted since it ended are kept. `banId`
   * is its row in PostgreSQL: a copy of a ban that was lifted meanwhile (a lift of that row or a
   * later one, see `unban`) is not made, so a sync that read just before a lift cannot undo it.
   */
  copyBan(subject: string, until: number | null, now: number, banId: number): Promise<boolean | undefined>;
  /**
   * Also forgets `bucketKeys`, so a lifted subject is allowed again at once; its strikes start
   * afresh at `now`. `liftedBanId`: the row an admin lifted; the store remembers it for
   * LIFT_TOMBSTONE_MS, and refuses copies of that row and older ones meanwhile.
   */
  unban(subject: string, bucketKeys: readonly string[], now: number, strikes: StrikeRule, liftedBanId?: number): Promise<boolean | undefined>;
  /**
   * The sync's repair of a lift that did not reach the store (it was down): removes the ban
   * unless the lift of `liftedBanId` (or a later one) was already applied, and remembers it.
   */
  relift(subject: string, liftedBanId: number): Promise<boolean | undefined>;
}

/**
 * How long a store remembers a lift (its tombstone). A sync whose PostgreSQL read is older than
 * SYNC_COPY_WITHIN_MS copies nothing, so no copy can come from a read made before a lift whose
 * tombstone is gone; the sync also re-applies the lifts of this window (`relift`).
 */
export const LIFT_TOMBSTONE_MS = 3_600_000;
export const SYNC_COPY_WITHIN_MS = 60_000;

/** A ban as the sync copies it: its end (null: permanent) and its row in PostgreSQL. */
export interface SyncedBan { until: number | null; id: number }

export const intervalOf = (b: Bucket) => b.periodMs / b.limit;

/** The result for buckets that all took the request, from their new arrival times. */
export function allowedResult(buckets: readonly Bucket[], tats: readonly number[], now: number): HitResult {
  let best: { limit: number; remaining: number; resetMs: number } | undefined;
  buckets.forEach((b, i) => {
    const tat = tats[i] ?? now;
    const interval = intervalOf(b);
    const remaining = Math.max(0, Math.floor((now - (tat - b.limit * interval)) / interval + 1e-9));
    const candidate = { limit: b.limit, remaining, resetMs: Math.max(0, tat - now) };
    // Report the tightest budget: that is the one the client will run into first.
    if (!best || candidate.remaining < best.remaining) best = candidate;
  });
  return { kind: "allowed", ...(best ?? { limit: 0, remaining: 0, resetMs: 0 }) };
}

/** The result for the first bucket that refused, from its current arrival time and the strike it earned. */
export function limitedResult(b: Bucket, tat: number, now: number, strike: Strike): HitResult {
  const interval = intervalOf(b);
  return {
    kind: "limited", subject: b.subject, limit: b.limit,
    retryAfterMs: Math.max(0, tat + interval - b.limit * interval - now),
    resetMs: Math.max(0, tat - now),
    strike,
  };
}

/** GCRA step on a plain arrival time; the Lua script in redis-store.ts does the same. */
export function gcra(b: Bucket, stored: number | undefined, now: number): { ok: boolean; tat: number } {
  const tat = Math.max(stored ?? now, now);
  const next = tat + intervalOf(b);
  if (next - b.limit * intervalOf(b) > now) return { ok: false, tat };
  return { ok: true, tat: next };
}
