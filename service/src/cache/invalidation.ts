/**
 * Keeps every instance's caches honest after a write, through the database that made it: a
 * trigger on urls NOTIFYs the changed codes in the writing transaction (migration 0001), each
 * instance LISTENs (listener.ts) and evicts what it hears from its LRU and writes a tombstone
 * over the Redis key. The gate says whether the LRU may answer on its own: only while LISTEN is
 * in place and the last fence was heard. On a re-LISTEN after a drop the LRU is emptied.
 *
 * A writer calls `settle(codes)` after its commit: it forgets the codes here at once, writes
 * their tombstones (not for new codes), and waits (at most SETTLE_TIMEOUT_MS) until its fence, a NOTIFY sent after
 * the commit, came back here and every live instance acked it (fences.ts): by then every
 * instance has evicted the codes, so a redirect anywhere after the write returned reflects it.
 *
 * The same channel keeps the instance's set of live codes current (live-codes.ts): loaded once
 * LISTEN is in place, added to by every code heard, loaded afresh after a drop or a flush; and
 * absence.ts says when a code missing from it may be answered 404 without a query.
 */
import type { Sql } from "../db/client.ts";
import type { Job } from "../lib/jobs.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import { createAbsence } from "./absence.ts";
import { createFences } from "./fences.ts";
import type { LiveCodes } from "./live-codes.ts";
import { INVALIDATE_CHANNEL, createListener } from "./listener.ts";
import type { RedisTier } from "./redis-tier.ts";

/** Read on every redirect; written only here. */
export interface CacheGate {
  /** The LRU may answer without asking PostgreSQL: LISTEN is in place and no fence went unheard. */
  trusted: boolean;
  /** Until then (Date.now ms) the Redis tier is neither read nor filled: a flush cannot reach its keys. */
  redisBypassUntil: number;
}

export const createGate = (): CacheGate => ({ trusted: false, redisBypassUntil: 0 });

/** A new code, or one whose answer changed (updated, deactivated, deleted). */
export type CodeChange = "created" | "changed";

/** What invalidation acts on: the redirect lookup's LRU and its lookups in flight. */
export interface InvalidationTarget {
  forget(shortCode: string): void;
  clear(): void;
}

export interface InvalidationOptions {
  sql: Sql;
  databaseUrl: string;
  /** Of the LISTEN connection, e.g. `linkfort-listen:8081`. */
  applicationName: string;
  tier: RedisTier;
  gate: CacheGate;
  target: InvalidationTarget;
  /** The set of live codes this channel keeps current. */
  codes: LiveCodes;
  metrics: Metrics;
  logger: Logger;
  /** After a flush, how long Redis is bypassed: the longest a key may live (ms). */
  redisKeyLifeMs: number;
}

/**
 * The most a writer waits for its fence and its peers' acks (ms): past it the write returns
 * anyway. A write not acked by all waits all of it, which is what lets an instance that did not
 * ack trust a fence of its own younger than half of it (absence.ts).
 */
export const SETTLE_TIMEOUT_MS = 100;
// Past this a request stops waiting for a fresh fence and asks PostgreSQL. As the LRU's stand-in
// (redirect/lookup.ts): a fence that slow means PostgreSQL or this event loop is that slow too.
const FRESH_WAIT_MS = 250;
// A fence every 2 s finds a connection that died silently (no FIN, a dropped NAT entry) within
// about 3 s, where TCP keepalive would take minutes; until one is heard again the LRU is bypassed.
const HEARTBEAT_MS = 2_000;
const HEARTBEAT_TIMEOUT_MS = 1_000;
// A peer silent for this long (three heartbeats) is no longer waited for.
const PEER_LIFE_MS = 3 * HEARTBEAT_MS;

export function createInvalidation(opts: InvalidationOptions) {
  const { gate, target, tier, codes: liveCodes, metrics, logger } = opts;
  let fenceMissed = false;

  const setTrust = (trusted: boolean) => {
    if (gate.trusted === trusted) return;
    gate.trusted = trusted;
    metrics.cacheListening.set(trusted ? 1 : 0);
  };

  const fences = createFences({
    send: (payload) => opts.sql`select pg_notify(${INVALIDATE_CHANNEL}, ${payload})`.then(() => true, () => false),
    peerLifeMs: PEER_LIFE_MS,
  });

  const onPayload = (payload: string) => {
    // Anything heard proves delivery since the missed fence: nothing committed before it was lost.
    fenceMissed = false;
    setTrust(listener.listening);
    if (fences.heard(payload)) return;
    if (payload === "*") {
      target.clear();
      void liveCodes.reload();
      gate.redisBypassUntil = Date.now() + opts.redisKeyLifeMs;
      metrics.cacheInvalidations.inc({ kind: "flush" });
      return;
    }
    const created = payload.charCodeAt(0) === 43; // "+": new codes, only a cached 404 to drop here
    const codes = (created ? payload.slice(1) : payload).split(" ");
    for (const code of codes) target.forget(code);
    liveCodes.add(codes);
    // Here too, not only in the writer: a write from psql, or a writer that died after commit.
    if (!created) void tier.tombstone(codes);
    metrics.cacheInvalidations.inc({ kind: "code" }, codes.length);
  };

  const listener = createListener({
    url: opts.databaseUrl, applicationName: opts.applicationName, logger, onPayload,
    onListening(again) {
      // Loaded and cleared once LISTEN is in place, so nothing committed after either can slip by.
      void liveCodes.reload();
      if (again) {
        target.clear();
        metrics.cacheInvalidations.inc({ kind: "reconnect" });
        logger.info("cache invalidation listening again; local cache emptied");
      }
      fenceMissed = false;
      setTrust(true);
      void fence("h", HEARTBEAT_TIMEOUT_MS); // tells the other instances to wait for this one's acks
    },
    onDropped() {
      setTrust(false);
      liveCodes.suspend();
      logger.warn("cache invalidation connection lost; local cache bypassed until it is back");
    },
  });

  /** One fence round; a fence this instance does not hear in time closes the gate until something is heard. */
  async function fence(kind: "h" | "w", timeoutMs: number): Promise<boolean> {
    if (!listener.listening) return false;
    const result = await fences.fence(kind, timeoutMs);
    if (result === "missed" && listener.listening) {
      fenceMissed = true;
      setTrust(false);
      logger.warn("cache invalidation fence not heard in time; local cache bypassed until one is", { timeout_ms: timeoutMs });
    }
    if (result === "unacked") logger.debug("cache invalidation fence not acked by every instance in time", { timeout_ms: timeoutMs });
    return result === "heard" && !fenceMissed;
  }

  const absence = createAbsence({
    gate, codes: liveCodes, metrics, freshMs: SETTLE_TIMEOUT_MS / 2, waitMs: FRESH_WAIT_MS,
    lastHeardSentAt: () => fences.lastHeardSentAt,
    fence: () => fence("h", HEARTBEAT_TIMEOUT_MS),
  });

  const abort = new AbortController();
  let heartbeat: Promise<void> | undefined;
  async function heartbeatLoop(): Promise<void> {
    while (!abort.signal.aborted) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, HEARTBEAT_MS);
        abort.signal.addEventListener("abort", () => { clearTimeout(timer); resolve(undefined); }, { once: true });
      });
      if (!abort.signal.aborted) await fence("h", HEARTBEAT_TIMEOUT_MS);
    }
  }

  const job: Job = {
    name: "cache invalidation listener",
    start() {
      listener.start();
      heartbeat ??= heartbeatLoop();
    },
    async stop() {
      abort.abort();
      await heartbeat;
      await listener.stop();
      setTrust(false);
      liveCodes.suspend();
    },
  };

  return {
    job,
    /** True while the LISTEN connection is in place. */
    get listening(): boolean {
      return listener.listening;
    },
    /**
     * For every write path, after its commit: the codes whose answer changed (a new link's too,
     * for a cached 404). Resolves once this instance has heard the write, or after SETTLE_TIMEOUT_MS.
     */
    async settle(shortCodes: readonly string[], change: CodeChange = "changed"): Promise<void> {
      for (const code of shortCodes) target.forget(code);
      liveCodes.add(shortCodes);
      const started = performance.now();
      // A new code needs no tombstone (Redis holds no 404s), so its first lookups fill Redis at once.
      const [heard] = await Promise.all([fence("w", SETTLE_TIMEOUT_MS), change === "created" ? true : tier.tombstone(shortCodes)]);
      // Not heard by all (or not sent): the whole bound, even when that was known early (absence.ts relies on it).
      const left = SETTLE_TIMEOUT_MS - (performance.now() - started);
      if (!heard && left > 0) await Bun.sleep(left);
      metrics.cacheSettle.observe((performance.now() - started) / 1000);
    },
    /** True: `code` is in no row of urls, answer 404 without a query (absence.ts). */
    absent: absence.absent,
    /** One heartbeat round, as the job runs it (tests call it directly): true once heard here. */
    heartbeat: () => fence("h", HEARTBEAT_TIMEOUT_MS),
    /** Other instances heard from lately: the ones a write waits for. */
    get peers(): number {
      return fences.peers;
    },
  };
}

export type Invalidation = ReturnType<typeof createInvalidation>;
