/**
 * Exact click caps (urls.max_clicks) across instances, in PostgreSQL, for capped links only.
 *
 * A capped click takes a slot before its 302 (`claim`): one statement that raises
 * click_caps.claimed only while it is below the link's max_clicks, under that row's lock, and
 * records the claim in click_claims under this process's incarnation (the clicks of one link
 * that arrive while its statement is in flight share the next one). Only then does the click
 * go to the spool, and only once the spool holds it does the 302 go out. The spool batch that
 * makes the click an event deletes its claim in the same transaction (repo.ts, `settleClaims`), so
 * click_claims holds only slots whose click is not in events yet.
 *
 * The one window is a process killed between a claim's commit and its spool write: a slot taken
 * whose click exists nowhere. Such a claim belongs to a dead incarnation; once the spool it would
 * have been written to has shipped to its end after that death, its click can never appear, and
 * claim-release.ts gives the slot back. docs/FAILURE_MODES.md ("Click caps") walks through it.
 */
import type { Sql } from "../db/client.ts";
import { pgArrayLiteral } from "./repo.ts";

export type ClaimResult =
  /** A slot is this click's: spool it, then answer 302. */
  | "claimed"
  /** The link has reached max_clicks: answer 410. */
  | "full"
  /** The link has no cap (any more) or is gone: go on as for any link. */
  | "uncapped";

export interface ClickCapsOptions {
  sql: Sql;
  /** The spool this process writes its clicks to (spool-dir.ts). */
  spoolId: string;
  /**
   * False with CLICKS=off: no click will ever ship to settle a claim, so a claim only raises the
   * count (a kill -9 right after it then costs a slot, never lets one more through).
   */
  track: boolean;
}

/** Click ids whose claim may have committed though this process never learnt it, kept for release. */
const UNCERTAIN_MAX = 10_000;
/** Most clicks of one link claimed by one statement. */
const BATCH_MAX = 500;

interface Waiter { clickId: string; resolve(result: ClaimResult): void; reject(error: unknown): void }

export function createClickCaps(opts: ClickCapsOptions) {
  const { sql, spoolId, track } = opts;
  // Names this process in its claims: a restart on the same spool is another incarnation.
  const incarnation = crypto.randomUUID();
  const uncertain = new Set<string>();
  // Per capped link: the clicks waiting while its claim statement is in flight. They go together
  // in the next one, so a link's claims cost one commit per round trip, not one per click: the
  // claims of one link queue on its row's lock, and a commit each would cap it at the disk's
  // flush rate. A link idle until now sends its first claim at once.
  const queues = new Map<number, Waiter[]>();

  async function run(urlId: number, batch: Waiter[]): Promise<void> {
    try {
      const results = await claimAll(urlId, batch.map((w) => w.clickId));
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (error) {
      for (const w of batch) {
        if (track) remember(w.clickId);
        w.reject(error);
      }
    }
    const waiting = queues.get(urlId) ?? [];
    if (waiting.length === 0) queues.delete(urlId);
    else void run(urlId, waiting.splice(0, BATCH_MAX));
  }

  /**
   * One statement for the link's waiting clicks, in their order. It locks the link's row FOR KEY
   * SHARE first, in the order a DELETE of the link locks (urls, then its caps and claims), then
   * raises click_caps.claimed by as many slots as are left, up to one per click, under that
   * row's lock (the upsert's SET and WHERE see the latest row, whichever instance wrote it);
   * `granted` is how many it took, and the first that many clicks get their claim rows.
   */
  async function claimAll(urlId: number, clickIds: readonly string[]): Promise<ClaimResult[]> {
    const k = clickIds.length;
    const [row] = await sql<{ max_clicks: string | null; granted: string }[]>`
      with link as (
        select id, max_clicks from urls where id = ${urlId} and max_clicks is not null for key share
      ),
      slot as (
        insert into click_caps as c (url_id, claimed, granted)
        select id, least(${k}::bigint, max_clicks), least(${k}::bigint, max_clicks) from link
        on conflict (url_id) do update
          set claimed = least(c.claimed + ${k}::bigint, (select max_clicks from link)),
            granted = least(c.claimed + ${k}::bigint, (select max_clicks from link)) - c.claimed
          where c.claimed < (select max_clicks from link)
        returning url_id, granted
      ),
      claim as (
        insert into click_claims (click_id, url_id, spool_id, incarnation, pid)
        select x.id, slot.url_id, ${spoolId}, ${incarnation}::uuid, ${process.pid}
        from slot, unnest(${pgArrayLiteral(clickIds)}::text::uuid[]) with ordinality as x(id, n)
        where x.n <= slot.granted and ${track}
      )
      select (select max_clicks from link) as max_clicks, coalesce((select granted from slot), 0) as granted`;
    if (!row || row.max_clicks === null) return clickIds.map(() => "uncapped");
    const granted = Number(row.granted);
    return clickIds.map((_, i) => (i < granted ? "claimed" : "full"));
  }

  return {
    incarnation,
    spoolId,

    /**
     * Takes a slot of the link's cap for this click id. Resolves "uncapped" when the link has no
     * cap (any more) or is gone. Throws when PostgreSQL fails; the click id is then kept for
     * release, since its claim may have committed unseen.
     */
    claim(urlId: number, clickId: string): Promise<ClaimResult> {
      const { promise, resolve, reject } = Promise.withResolvers<ClaimResult>();
      const waiting = queues.get(urlId);
      if (waiting) waiting.push({ clickId, resolve, reject });
      else {
        queues.set(urlId, []);
        void run(urlId, [{ clickId, resolve, reject }]);
      }
      return promise;
    },

    /**
     * The spool could not keep a claimed click (disk full, spool full): the 302 still goes out,
     * as for any link, so its slot stays taken; only its claim row goes, so that no release ever
     * gives that slot back. Throws when PostgreSQL fails: the caller answers 503 instead (no 302),
     * and the claim waits for release.
     */
    async settleWithoutClick(clickId: string): Promise<void> {
      if (!track) return;
      try {
        await sql`delete from click_claims where click_id = ${clickId}::uuid`;
      } catch (error) {
        remember(clickId);
        throw error;
      }
    },

    /** For HEAD, which takes no slot: true once the link's slots are all taken. */
    async isFull(urlId: number): Promise<boolean> {
      const [row] = await sql<{ full: boolean }[]>`
        select coalesce(c.claimed, 0) >= u.max_clicks as full
        from urls u left join click_caps c on c.url_id = u.id
        where u.id = ${urlId} and u.max_clicks is not null`;
      return row?.full ?? false;
    },

    /** Click ids of this process whose claim may exist with no click spooled: what release gives back. */
    takeUncertain(): string[] {
      const ids = [...uncertain];
      uncertain.clear();
      return ids;
    },
    /** Puts back ids a failed release could not settle. */
    keepUncertain(ids: readonly string[]): void {
      for (const id of ids) remember(id);
    },
  };

  function remember(clickId: string): void {
    // Bounded: past this many (a long outage of many capped clicks), the oldest stay taken until
    // this process restarts, when the claims of its incarnation are released anyway.
    if (uncertain.size >= UNCERTAIN_MAX) return;
    uncertain.add(clickId);
  }
}

export type ClickCaps = ReturnType<typeof createClickCaps>;
