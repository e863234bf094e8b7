/**
 * Giving back click-cap slots (caps.ts) whose click will never reach events. A claim is settled
 * by the spool batch that ships its click (the same transaction deletes it); a claim still
 * present belongs either to a click on its way (in a spool, not shipped yet) or to an orphan:
 * its process died after the claim committed and before the spool write, or failed the request
 * after claiming. Only an orphan is released, and only when that is certain:
 *
 * - restart: a spool has one process at a time (its port), so a claim of this process's spool
 *   under another incarnation was made by a process that is dead. Once this process's shipper is
 *   caught up, every click that process wrote has shipped and settled its claim: what remains is
 *   orphaned. Checked again every `everyMs`, for a claim that a dead process's connection was
 *   still committing when the first check ran.
 * - adopted: an instance adopting a sibling spool releases the claims of incarnations whose
 *   process is gone (no such pid on the host), judged before the spool is shipped to its end.
 *   A process that is only stalled (SIGSTOP, swapped) still has its pid, so its claims stay.
 * - unanswered: this process's own claims it failed to answer (PostgreSQL failed mid-way): it
 *   never spooled those clicks.
 *
 * Releasing deletes the claim and lowers the link's count in one statement.
 */
import type { PendingQuery, Row } from "postgres";
import type { Sql } from "../db/client.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { ClickCaps } from "./caps.ts";
import { pgArrayLiteral } from "./repo.ts";
import type { SpoolShipper } from "./shipper.ts";

/** True while a process with this id exists on the host (EPERM: it exists, owned by another user). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code !== "ESRCH";
  }
}

/** Deletes the claims `which` selects and lowers each link's count by its claims deleted; returns how many. */
async function releaseWhere(sql: Sql, which: PendingQuery<Row[]>): Promise<number> {
  const rows = await sql<{ n: string }[]>`
    with gone as (delete from click_claims where ${which} returning url_id),
    counts as (select url_id, count(*) as n from gone group by url_id)
    update click_caps c set claimed = c.claimed - counts.n from counts where c.url_id = counts.url_id
    returning counts.n`;
  return rows.reduce((sum, row) => sum + Number(row.n), 0);
}

export interface ClaimReleaseOptions {
  sql: Sql;
  caps: ClickCaps;
  metrics: Metrics;
  logger: Logger;
  /** Least time between two checks of this spool's orphans (ms). */
  everyMs: number;
}

export function createClaimRelease(opts: ClaimReleaseOptions) {
  const { sql, caps, metrics, logger } = opts;
  let lastAt = -Infinity;
  let failing = false;

  const count = (why: "restart" | "adopted" | "unanswered", n: number, spool: string) => {
    if (n === 0) return;
    metrics.clickClaimsReleased.inc({ why }, n);
    logger.info("click cap slots released: their clicks never reached a spool", { why, spool, claims: n });
  };

  /** Orphans of earlier processes on this spool, and this process's unanswered claims. */
  async function releaseOwn(): Promise<void> {
    const restart = await releaseWhere(sql, sql`spool_id = ${caps.spoolId} and incarnation <> ${caps.incarnation}::uuid`);
    count("restart", restart, caps.spoolId);
    const ids = caps.takeUncertain();
    if (ids.length === 0) return;
    try {
      const n = await releaseWhere(sql, sql`click_id = any(${pgArrayLiteral(ids)}::text::uuid[]) and incarnation = ${caps.incarnation}::uuid`);
      count("unanswered", n, caps.spoolId);
    } catch (error) {
      caps.keepUncertain(ids);
      throw error;
    }
  }

  return {
    /**
     * This process's shipper with the restart release after its caught-up rounds (at most every
     * `everyMs`). A failed release is logged and tried again later; it never fails the round.
     */
    wrap(shipper: SpoolShipper): SpoolShipper {
      return {
        ...shipper,
        async runOnce() {
          const result = await shipper.runOnce();
          if (result.caughtUp && performance.now() - lastAt >= opts.everyMs) {
            lastAt = performance.now();
            try {
              await releaseOwn();
              if (failing) logger.info("click cap release works again");
              failing = false;
            } catch (error) {
              if (!failing) logger.warn("releasing click cap slots failed; tried again later", { error });
              failing = true;
            }
          }
          return result;
        },
      };
    },

    /**
     * For an adopter, before it ships a sibling spool: the incarnations whose claims may be
     * released once that spool is shipped to its end (their process no longer exists).
     */
    async deadIncarnations(spoolId: string): Promise<string[]> {
      const rows = await sql<{ incarnation: string; pid: number }[]>`select distinct incarnation, pid from click_claims where spool_id = ${spoolId}`;
      // Our own pid under another incarnation is an earlier process that had it, so a dead one.
      return rows.filter((r) => r.incarnation !== caps.incarnation && (r.pid === process.pid || !processExists(r.pid))).map((r) => r.incarnation);
    },

    /** After the adopted spool shipped to its end: gives back the dead incarnations' remaining claims. */
    async releaseAdopted(spoolId: string, incarnations: readonly string[]): Promise<number> {
      if (incarnations.length === 0) return 0;
      const n = await releaseWhere(sql, sql`spool_id = ${spoolId} and incarnation = any(${pgArrayLiteral(incarnations)}::text::uuid[])`);
      count("adopted", n, spoolId);
      return n;
    },
  };
}

export type ClaimRelease = ReturnType<typeof createClaimRelease>;
