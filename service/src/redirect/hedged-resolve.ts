/**
 * A redirect miss's PostgreSQL lookup on a cluster URL (issue #16): the primary is asked first;
 * when it has not answered within HEDGE_AFTER_MS, or fails, a standby (the read pool, db/primary.ts
 * `reads`) is asked too. A primary that lost power would otherwise hold the lookup until the
 * response timeout (7 s) and then answer 503.
 *
 * The primary stays the authority. A standby's answer is taken only when it is a found link with
 * no click cap: a standby may not have replayed a link created or reactivated a moment ago, so
 * its "missing" or "inactive" must never become a 404/410 (the lookup waits for the primary, and
 * fails as today, 503, when the primary fails); a capped link's clicks are counted on the primary
 * (click-cap.ts), so its answer without the primary is today's 503. A standby's answer is not
 * cached either (`fromStandby`): with synchronous commit the standby has flushed every
 * acknowledged write but may not have applied an edit yet, and a cached old destination would
 * outlive the moment.
 */
import type { Lookup } from "./model.ts";

/**
 * How long the primary has before a standby is asked too (ms). Measured on a loaded 2-core test
 * machine (repo.resolve on the pg-standby.ts pair, 2,000 lookups): p99 0.13 ms, max 2.9 ms. So a
 * standby is asked only when the primary is in trouble, and the answer still comes far below the
 * response timeout (7 s): the first uncached redirect after a freeze took 314 ms in
 * test/db-standby-reads.test.ts.
 */
export const HEDGE_AFTER_MS = 300;

const standbyAnswers = new WeakSet<Lookup>();

/** True for an answer that came from a standby: not to be cached. */
export const fromStandby = (value: Lookup): boolean => standbyAnswers.has(value);

export type StandbyRead = "found" | "unusable" | "failed";

export interface HedgedResolveOptions {
  primary(shortCode: string): Promise<Lookup>;
  standby(shortCode: string): Promise<Lookup>;
  /** Told how each standby read ended: found (answered the redirect), unusable (missing, inactive or capped), failed. */
  onStandbyRead?(result: StandbyRead): void;
  hedgeAfterMs?: number;
}

const usable = (value: Lookup) => value.kind === "found" && value.options?.maxClicks === undefined;

export function createHedgedResolve(opts: HedgedResolveOptions) {
  const hedgeAfterMs = opts.hedgeAfterMs ?? HEDGE_AFTER_MS;
  return (shortCode: string): Promise<Lookup> =>
    new Promise<Lookup>((resolve, reject) => {
      let done = false;
      let primaryError: { error: unknown } | undefined;
      let standbyState: "idle" | "asking" | "unusable" = "idle";
      const finish = (settle: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        settle();
      };
      const askStandby = () => {
        if (standbyState !== "idle" || done) return;
        standbyState = "asking";
        opts.standby(shortCode).then(
          (value) => {
            if (usable(value)) {
              opts.onStandbyRead?.("found");
              standbyAnswers.add(value);
              finish(() => resolve(value));
              return;
            }
            opts.onStandbyRead?.("unusable");
            standbyState = "unusable";
            if (primaryError) finish(() => reject(primaryError!.error));
          },
          () => {
            opts.onStandbyRead?.("failed");
            standbyState = "unusable";
            if (primaryError) finish(() => reject(primaryError!.error));
          },
        );
      };
      const timer = setTimeout(askStandby, hedgeAfterMs);
      opts.primary(shortCode).then(
        (value) => finish(() => resolve(value)),
        (error: unknown) => {
          primaryError = { error };
          // The primary's error is the answer (today's 503) once the standby cannot do better.
          if (standbyState === "unusable") finish(() => reject(error));
          else askStandby();
        },
      );
    });
}
