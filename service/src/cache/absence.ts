/**
 * When may this instance answer 404 from its set of live codes (live-codes.ts) without asking
 * PostgreSQL? Only while it listens (the gate is trusted), the set is loaded, and it has heard
 * back one of its own fences sent within the last `freshMs`.
 *
 * Why the last: a writer returns its 201 once every live instance acked its fence, or after
 * SETTLE_TIMEOUT_MS (invalidation.ts) when one did not. In that second case the client may ask an
 * instance whose listener is behind, and that instance cannot know. But the commit is then more
 * than SETTLE_TIMEOUT_MS old, so a fence of its own sent within the last freshMs (half of that)
 * was sent after the commit, and PostgreSQL delivers in commit order: hearing that fence means
 * the new code was heard before it. Without such a fence the answer waits briefly for one (one
 * NOTIFY shared by every request meanwhile, sent ahead of need while misses keep coming) and is
 * looked up in PostgreSQL when none comes. A false "not found" for a live link is a bug; a
 * false "maybe" only costs a query.
 */
import { tallies } from "../http/tally.ts";
import type { Metrics } from "../metrics.ts";
import type { CacheGate } from "./invalidation.ts";
import type { LiveCodes } from "./live-codes.ts";

export interface AbsenceOptions {
  gate: CacheGate;
  codes: LiveCodes;
  /** performance.now() at the send of the newest own fence heard back (fences.ts). */
  lastHeardSentAt(): number;
  /** Sends a fence; true once heard back here. */
  fence(): Promise<boolean>;
  /** How recent a heard fence must be for a 404 from the set (ms); at most half the writers' settle bound. */
  freshMs: number;
  /** How long an answer waits for a fresh fence before it asks PostgreSQL (ms). */
  waitMs: number;
  metrics: Metrics;
}

export function createAbsence(opts: AbsenceOptions) {
  const { gate, codes, freshMs } = opts;
  const counted = tallies(opts.metrics.cacheLookups);
  const count = {
    absent: counted.labels({ tier: "live_codes", result: "absent" }),
    maybe: counted.labels({ tier: "live_codes", result: "maybe" }),
    untrusted: counted.labels({ tier: "live_codes", result: "untrusted" }),
  };
  let refreshing: Promise<boolean> | undefined;

  const refresh = () => (refreshing ??= opts.fence().catch(() => false).finally(() => { refreshing = undefined; }));

  /** A fresh fence, or false after waitMs. */
  async function awaitFresh(): Promise<void> {
    let timer: Timer | undefined;
    const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, opts.waitMs); });
    await Promise.race([refresh(), late]);
    clearTimeout(timer);
  }

  const usable = () => gate.trusted && codes.ready;

  return {
    /**
     * True: no such code, answer 404 without a query. False: look it up. A promise while a fresh
     * fence is awaited; synchronous otherwise (the common case under a flood of unknown codes).
     */
    absent(code: string): boolean | Promise<boolean> {
      if (!usable()) {
        count.untrusted.inc();
        return false;
      }
      if (codes.has(code)) {
        count.maybe.inc();
        return false;
      }
      const asked = performance.now();
      const age = asked - opts.lastHeardSentAt();
      if (age < freshMs) {
        // Past a quarter of its life the next fence goes out now, so a steady stream of misses
        // does not wait even when a busy event loop takes a while to read the fence back.
        if (age >= freshMs / 4) void refresh();
        count.absent.inc();
        return true;
      }
      return awaitFresh().then(() => {
        const fresh = opts.lastHeardSentAt() >= asked - freshMs;
        const answer = fresh && usable() && !codes.has(code);
        (answer ? count.absent : count.untrusted).inc();
        return answer;
      });
    },
  };
}

export type Absence = ReturnType<typeof createAbsence>;
