/**
 * The limiter's rules: which buckets a request spends, the ban check, and the escalation from a
 * warning (a counted 429) to a temporary ban to a permanent one. Redis decides while it is up;
 * this instance's memory decides while it is not. Nothing here may fail a request: every store
 * problem is a value, and the hook lets a request through if the limiter itself breaks.
 */
import { ApiError } from "../http/errors.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { MemoryStore } from "./memory-store.ts";
import type { BanKind, BansRepo } from "./repo.ts";
import type { RouteKind } from "./route-kind.ts";
import { clientSubject } from "./subject.ts";
import { LIFT_TOMBSTONE_MS, SYNC_COPY_WITHIN_MS, type Bucket, type HitResult, type LimitStore, type StrikeRule, type SyncedBan } from "./store.ts";

const MINUTE_MS = 60_000;
// A client that keeps hammering earns one strike per minute, not one per refused request:
// a burst of 500 refused requests is one warning, only a minute-after-minute habit is a ban.
const STRIKE_SPACING_MS = MINUTE_MS;
const BUDGETS = ["redirect", "read", "write"] as const;
type Budget = (typeof BUDGETS)[number];

export interface LimitsOptions {
  perMinute: Record<Budget, number>;
  banAfterViolations: number;
  violationWindowMs: number;
  banDurationMs: number;
  banPermanentAfter: number;
  /** IPv6 clients are one subject per this prefix length (see subject.ts); default 64. */
  ipv6Prefix?: number;
  redis: LimitStore | undefined;
  memory: MemoryStore;
  repo: BansRepo;
  metrics: Metrics;
  logger: Logger;
  /** Milliseconds since the epoch; tests move it instead of waiting. Default Date.now. */
  now?: () => number;
}

export interface LimitRequest {
  kind: Exclude<RouteKind, "exempt">;
  /** The client's full address; the limiter groups IPv6 by prefix itself. */
  ip: string;
  /** SHA-256 hex of the presented bearer token, when there is one (redirects ignore it). */
  keyHash: string | undefined;
}

/** Pass: go on, with RateLimit-* headers to add (none for redirects). */
export type Verdict = { pass: true; headers: Record<string, string> } | { pass: false; error: ApiError };

const subjectOf = (kind: BanKind, id: string) => `${kind}:${id}`;
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export function createLimits(opts: LimitsOptions) {
  const now = opts.now ?? Date.now;
  const ipv6Prefix = opts.ipv6Prefix ?? 64;
  const strikes: StrikeRule = { spacingMs: STRIKE_SPACING_MS, windowMs: opts.violationWindowMs };
  let lastStore: "redis" | "memory" | undefined;
  // A ban that reached PostgreSQL but not Redis: copy the bans in again as soon as Redis answers.
  let redisMissesBans = false;
  let onRedisBack: (() => void) | undefined;

  function bucketsFor(req: LimitRequest): Bucket[] {
    const limit = opts.perMinute[req.kind];
    const subjects = [subjectOf("ip", clientSubject(req.ip, ipv6Prefix))];
    if (req.kind !== "redirect" && req.keyHash) subjects.push(subjectOf("key", req.keyHash));
    return subjects.map((subject) => ({ key: `${req.kind}:${subject}`, subject, limit, periodMs: MINUTE_MS }));
  }

  async function hit(subjects: string[], buckets: Bucket[], at: number): Promise<HitResult> {
    // Redis counts on from the strikes this instance knows, and this instance follows Redis's
    // answer: a client's strikes add up whichever store decides a round (a stalled or restarted
    // Redis no longer costs a due ban).
    const viaRedis = opts.redis ? await opts.redis.hit(subjects, buckets, at, strikes, opts.memory.known) : undefined;
    if (viaRedis) opts.memory.follow(viaRedis);
    const store = viaRedis ? "redis" : "memory";
    // Back from an outage: Redis may have been flushed or restarted empty, so copy the bans in again.
    if (store === "redis" && (lastStore === "memory" || redisMissesBans)) {
      redisMissesBans = false;
      onRedisBack?.();
    }
    lastStore = store;
    return viaRedis ?? (await opts.memory.hit(subjects, buckets, at, strikes));
  }

  function bannedError(until: number | null, at: number): ApiError {
    if (until === null) return new ApiError("forbidden", "this client is banned permanently for repeatedly exceeding rate limits");
    const when = new Date(until).toISOString();
    return new ApiError("forbidden", `this client is banned until ${when} for repeatedly exceeding rate limits`,
      { until: when }, { "Retry-After": String(seconds(until - at)) });
  }

  /** Records the ban in PostgreSQL (best effort) and in both stores, and says when it ends. */
  async function escalate(subject: string, reason: string, at: number): Promise<number | null> {
    const [kind, ...rest] = subject.split(":");
    const id = rest.join(":");
    const banKind: BanKind = kind === "key" ? "key" : "ip";
    // Without PostgreSQL the earlier bans are unknown: the lighter ban, never a permanent one on a guess.
    const prior = await opts.repo.countTemporary(banKind, id).catch((error: unknown) => {
      opts.logger.warn("earlier bans unknown (postgres); issuing a temporary ban", { subject, error });
      return 0;
    });
    const level = prior >= opts.banPermanentAfter ? 2 : 1;
    const until = level === 1 ? at + opts.banDurationMs : null;
    await opts.repo.insert({ subject: id, kind: banKind, level, reason, until: until === null ? null : new Date(until) }, new Date(at))
      .catch((error: unknown) => opts.logger.warn("ban not recorded in postgres", { subject, error }));
    if (opts.redis && (await opts.redis.ban(subject, until, at, strikes)) === undefined) redisMissesBans = true;
    await opts.memory.ban(subject, until, at, strikes);
    opts.metrics.bans.inc({ level: level === 1 ? "temporary" : "permanent" });
    opts.logger.warn("client banned", { subject, level, until: until === null ? null : new Date(until).toISOString() });
    return until;
  }

  async function refuse(result: Extract<HitResult, { kind: "limited" }>, budget: Budget, at: number): Promise<ApiError> {
    opts.metrics.rateLimited.inc({ budget });
    const { strike } = result;
    if (strike.counted && strike.count >= opts.banAfterViolations) {
      const until = await escalate(result.subject, `${strike.count} rate-limit violations (${budget})`, at);
      return bannedError(until, at);
    }
    if (strike.counted) opts.metrics.bans.inc({ level: "warning" });
    const retryAfter = seconds(result.retryAfterMs);
    return new ApiError("tooManyRequests",
      `rate limit of ${result.limit} ${budget === "redirect" ? "redirects" : `API ${budget}s`} per minute exceeded; retry in ${retryAfter} s (repeated violations lead to a ban)`,
      { retry_after: retryAfter },
      { "Retry-After": String(retryAfter), ...rateLimitHeaders(result.limit, 0, result.resetMs) });
  }

  return {
    async check(req: LimitRequest): Promise<Verdict> {
      const at = now();
      const buckets = bucketsFor(req);
      const subjects = buckets.map((b) => b.subject);
      const result = await hit(subjects, buckets, at);
      if (result.kind === "banned") return { pass: false, error: bannedError(result.until, at) };
      if (result.kind === "limited") return { pass: false, error: await refuse(result, req.kind, at) };
      return { pass: true, headers: req.kind === "redirect" ? {} : rateLimitHeaders(result.limit, result.remaining, result.resetMs) };
    },
    /**
     * Forgets a lifted ban in both stores, with its strikes and buckets: allowed again at once.
     * `banId`: the lifted row, remembered so that a sync that read it as active just before the
     * lift cannot copy it back.
     */
    async forget(kind: BanKind, id: string, banId?: number): Promise<void> {
      const subject = subjectOf(kind, id);
      const keys = BUDGETS.map((b) => `${b}:${subject}`);
      const at = now();
      await opts.redis?.unban(subject, keys, at, strikes, banId);
      await opts.memory.unban(subject, keys, at, strikes, banId);
    },
    /**
     * Copies the active bans (PostgreSQL is their record) into Redis and this instance, and
     * re-applies the recent lifts a store may have missed (Redis down during the lift). A lift
     * wins over a copy made from a read before it: the stores refuse copies of a lifted row
     * (`copyBan`), and a read older than SYNC_COPY_WITHIN_MS, whose lifts' tombstones may be
     * gone, copies nothing (the next round reads afresh).
     */
    async syncOnce(): Promise<void> {
      const at = now();
      const readAt = performance.now();
      const [rows, lifted] = await Promise.all([
        opts.repo.active(new Date(at)),
        opts.repo.liftedSince(new Date(at - LIFT_TOMBSTONE_MS)),
      ]);
      const fresh = () => {
        if (performance.now() - readAt <= SYNC_COPY_WITHIN_MS) return true;
        opts.logger.warn("ban sync stopped: its read of PostgreSQL is too old to copy from; the next round reads again");
        return false;
      };
      // Rows come by id: a subject with several active bans gets its newest.
      const known = new Map<string, SyncedBan>(rows.map((r) => [subjectOf(r.kind, r.subject), { until: r.until ? r.until.getTime() : null, id: r.id }]));
      if (!fresh()) return;
      opts.memory.replaceBans(known);
      // Copies, not new bans: the strikes counted since a ban ended (by another clock) stay.
      for (const [subject, ban] of known) {
        if (!fresh()) return;
        await opts.redis?.copyBan(subject, ban.until, at, ban.id);
      }
      for (const row of lifted) {
        const subject = subjectOf(row.kind, row.subject);
        if (known.has(subject)) continue; // banned again since: that ban stands
        if (!fresh()) return;
        await opts.redis?.relift(subject, row.id);
      }
    },
    /** Called when the Redis store answers again after the memory store had to. */
    set onRedisBack(fn: (() => void) | undefined) { onRedisBack = fn; },
    now,
  };
}

export type Limits = ReturnType<typeof createLimits>;

/** The IETF draft's fields: Reset is the seconds until the budget is full again. */
export function rateLimitHeaders(limit: number, remaining: number, resetMs: number): Record<string, string> {
  return { "RateLimit-Limit": String(limit), "RateLimit-Remaining": String(remaining), "RateLimit-Reset": String(Math.ceil(resetMs / 1000)) };
}
