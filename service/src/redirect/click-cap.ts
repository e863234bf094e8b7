/**
 * The redirect of a link with max_clicks (service.ts hands it only those: a link without a cap
 * pays nothing here). A GET takes a slot (clicks/caps.ts) before its click goes to the spool and
 * the 302 out; with no slot left it is a 410 saying so; when PostgreSQL cannot be asked, a 503:
 * a cap that cannot be counted is not answered past. A HEAD takes no slot and only reads whether
 * one is left. docs/FAILURE_MODES.md ("Click caps") has the whole argument.
 */
import type { ClickCaps } from "../clicks/caps.ts";
import type { ClickSink } from "../clicks/sink.ts";
import { ApiError, unavailable } from "../http/errors.ts";
import type { Metrics } from "../metrics.ts";
import type { Found, LinkOptions } from "./model.ts";
import { clickOf, type Visit } from "./service.ts";

/**
 * After a claim found the link full, its further requests on this instance are 410s without
 * asking PostgreSQL for this long (ms): an exhausted popular link must not cost a round trip per
 * visit. Keyed by the cached options object, so an edit of the link (a raised cap) is seen at
 * once; a slot given back by a release waits at most this long.
 */
const FULL_MEMO_MS = 1_000;
const RETRY_AFTER_S = 5;

const limitReached = (shortCode: string, maxClicks: number) =>
  new ApiError("gone", `short code ${shortCode} reached its click limit (${maxClicks} clicks)`);

const cannotCount = (shortCode: string) =>
  unavailable(`short code ${shortCode} has a click limit, and its clicks cannot be counted while the database is unavailable; try again shortly`, RETRY_AFTER_S);

export function createCappedFollow(deps: { caps: ClickCaps; clicks: ClickSink; metrics: Metrics }) {
  const { caps, clicks, metrics } = deps;
  const fullUntil = new WeakMap<LinkOptions, number>();

  async function head(found: Found, shortCode: string, maxClicks: number): Promise<Found> {
    let full: boolean;
    try {
      full = await caps.isFull(found.urlId);
    } catch {
      throw cannotCount(shortCode);
    }
    if (full) throw limitReached(shortCode, maxClicks);
    return found;
  }

  return {
    /** The link's answer once its click holds a slot and is spooled; throws the 410 or 503 otherwise. */
    async follow(found: Found, maxClicks: number, shortCode: string, visit: Visit): Promise<Found> {
      if (visit.countClick === false) return head(found, shortCode, maxClicks);
      const memo = found.options;
      if (memo !== undefined && (fullUntil.get(memo) ?? 0) > performance.now()) {
        metrics.clickClaims.inc({ result: "full" });
        throw limitReached(shortCode, maxClicks);
      }
      const click = clickOf(found, shortCode, visit);
      let result;
      try {
        result = await caps.claim(found.urlId, click.id);
      } catch {
        metrics.clickClaims.inc({ result: "failed" });
        throw cannotCount(shortCode);
      }
      if (result === "full") {
        metrics.clickClaims.inc({ result: "full" });
        if (memo !== undefined) fullUntil.set(memo, performance.now() + FULL_MEMO_MS);
        throw limitReached(shortCode, maxClicks);
      }
      if (result === "claimed") metrics.clickClaims.inc({ result: "claimed" });
      // The click is spooled before the 302, as for every link; only then is the slot's claim
      // something a restart could find orphaned, and only if this process dies right here.
      const kept = await clicks.record(click);
      if (result === "claimed" && kept === false) {
        try {
          await caps.settleWithoutClick(click.id);
        } catch {
          throw cannotCount(shortCode);
        }
      }
      return found;
    },
  };
}

export type CappedFollow = ReturnType<typeof createCappedFollow>;
