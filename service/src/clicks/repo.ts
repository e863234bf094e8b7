/**
 * Writing clicks: one `clicked` event per click and the batch's rollups (per url per UTC day, per
 * referrer host, per agent family; each also counts its bots' clicks, flagged by bots.ts). The spool shipper runs it inside the transaction that moves
 * its spool offset (offsets-repo.ts), which is what makes a click count once; the one-shot drain
 * of the old Redis stream runs it with click receipts instead.
 *
 * A batch is two round trips whatever its size: lock the links (which also reads their owners);
 * then insert the events and upsert the rollups, once per key. Counting in memory first means a link clicked a
 * hundred times in a batch costs one row update per rollup, not a hundred.
 */
import type { Sql } from "../db/client.ts";
import { botFlags } from "./bots.ts";
import { clickDetails, type Click } from "./model.ts";
import { agentFamily, countRollups, referrerKey, utcDay, type RollupColumns } from "./rollup.ts";

/**
 * A PostgreSQL array literal of quoted elements, sent as one text parameter and cast in SQL.
 * postgres.js can serialise arrays only after it has loaded the server's array types, and on a
 * fresh pool it sent "1,2", which failed the batch; a literal does not depend on that.
 */
export const pgArrayLiteral = (items: readonly (string | number)[]) =>
  `{${items.map((item) => `"${String(item).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")}}`;

/** Receipts make a second write of one click id a no-op: only the old stream's drain needs that. */
type Dedup = "receipts" | "none";

/**
 * Takes the links' owners and then the links themselves FOR KEY SHARE, in id order, and returns
 * each live link's owner. A DELETE of a link or a user locks in that order too (user, then links,
 * then their events and rollups by cascade); without this the writes' foreign-key checks took
 * their locks in whatever order they ran, and a delete meanwhile deadlocked with them. A link
 * missing here was deleted: its clicks are skipped, and the lock keeps the others' links alive
 * until commit. Must run in the caller's transaction to hold.
 */
async function lockLinks(tx: Sql, urlIds: readonly number[]): Promise<{ owners: Map<number, number>; capped: Set<number> }> {
  const ids = pgArrayLiteral([...new Set(urlIds)]);
  // Sent together (postgres.js pipelines them on the transaction's connection): one round trip.
  // `capped`: the link has taken click-cap slots (caps.ts), so its clicks may have claims to settle.
  const [, links] = await Promise.all([
    tx`select 1 from users where id in (select user_id from urls where id = any(${ids}::text::int[])) order by id for key share`,
    tx<{ id: number; user_id: number; capped: boolean }[]>`
      select id, user_id, exists (select 1 from click_caps c where c.url_id = urls.id) as capped
      from urls where id = any(${ids}::text::int[]) order by id for key share`,
  ]);
  return { owners: new Map(links.map((l) => [l.id, l.user_id])), capped: new Set(links.filter((l) => l.capped).map((l) => l.id)) };
}

/** The clicks whose id has no receipt yet, taking one for each (in id order, so two drains cannot deadlock). */
async function takeReceipts(tx: Sql, clicks: readonly Click[]): Promise<Click[]> {
  const byId = new Map(clicks.map((c) => [c.id, c])); // a batch naming an id twice writes it once
  const fresh = await tx<{ click_id: string }[]>`
    insert into click_receipts (click_id) select id from unnest(${pgArrayLiteral([...byId.keys()])}::text::uuid[]) as r(id) order by id
    on conflict do nothing returning click_id`;
  const taken = new Set(fresh.map((r) => r.click_id));
  return [...byId.values()].filter((c) => taken.has(c.id)); // in batch order, not the receipts' id order
}

/**
 * The events, in spool order (ids ascend as the clicks were read), by one INSERT … SELECT FROM
 * unnest of column arrays: each array is one parameter however long the batch. COPY would save
 * parsing, but postgres.js (3.4.9) never settles a COPY the server refuses, leaving the transaction
 * open on its connection for good (its issue 1173); see docs/PERFORMANCE.md for what COPY saved.
 */
async function insertEvents(tx: Sql, clicks: readonly Click[], bots: readonly boolean[], owners: ReadonlyMap<number, number>): Promise<void> {
  const col = <T extends string | number>(f: (c: Click, i: number) => T) => pgArrayLiteral(clicks.map(f));
  await tx`
    insert into events (url_id, user_id, event_type, timestamp, details)
    select url_id, user_id, 'clicked', at at time zone 'UTC', details
    from unnest(
      ${col((c) => c.urlId)}::text::int[], ${col((c) => owners.get(c.urlId)!)}::text::int[],
      ${col((c) => c.at.toISOString())}::text::timestamptz[], ${col((c, i) => JSON.stringify(clickDetails(c, bots[i])))}::text::jsonb[]
    ) with ordinality as c(url_id, user_id, at, details, n)
    order by n`;
}

/**
 * One upsert per distinct key of each rollup, sorted by key in SQL so that every writer locks
 * rollup rows in the same order. One statement: its three parts run in the order written.
 */
async function upsertRollups(tx: Sql, rollups: { daily: RollupColumns; referrers: RollupColumns; agents: RollupColumns }): Promise<void> {
  const ints = (xs: readonly number[]) => pgArrayLiteral(xs);
  const { daily, referrers, agents } = rollups;
  await tx`
    with daily as (
      insert into click_daily (url_id, day, clicks, bot_clicks)
      select * from unnest(${ints(daily.urlIds)}::text::int[], ${pgArrayLiteral(daily.days)}::text::date[], ${ints(daily.clicks)}::text::int[],
        ${ints(daily.botClicks)}::text::int[])
      order by 1, 2
      on conflict (url_id, day) do update set clicks = click_daily.clicks + excluded.clicks, bot_clicks = click_daily.bot_clicks + excluded.bot_clicks
    ),
    referrers as (
      insert into click_referrers (url_id, day, referrer, clicks, bot_clicks)
      select * from unnest(${ints(referrers.urlIds)}::text::int[], ${pgArrayLiteral(referrers.days)}::text::date[],
        ${pgArrayLiteral(referrers.keys)}::text::text[], ${ints(referrers.clicks)}::text::int[], ${ints(referrers.botClicks)}::text::int[])
      order by 1, 2, 3
      on conflict (url_id, day, referrer) do update set clicks = click_referrers.clicks + excluded.clicks,
        bot_clicks = click_referrers.bot_clicks + excluded.bot_clicks
    )
    insert into click_agents (url_id, day, agent, clicks, bot_clicks)
    select * from unnest(${ints(agents.urlIds)}::text::int[], ${pgArrayLiteral(agents.days)}::text::date[],
      ${pgArrayLiteral(agents.keys)}::text::text[], ${ints(agents.clicks)}::text::int[], ${ints(agents.botClicks)}::text::int[])
    order by 1, 2, 3
    on conflict (url_id, day, agent) do update set clicks = click_agents.clicks + excluded.clicks,
      bot_clicks = click_agents.bot_clicks + excluded.bot_clicks`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * These clicks of capped links become events in this transaction: their click-cap claims
 * (caps.ts) go with them, so a claim outlives its click only when the click never reached a
 * spool. Sent after the links' locks, in a link DELETE's lock order (urls, then claims by cascade).
 */
async function settleClaims(tx: Sql, clicks: readonly Click[]): Promise<void> {
  // A claim's id is always a UUID; a spool line with another id (written by hand) has no claim
  // and must not fail the batch's cast.
  const ids = clicks.map((c) => c.id).filter((id) => UUID.test(id));
  if (ids.length === 0) return;
  await tx`delete from click_claims where click_id = any(${pgArrayLiteral(ids)}::text::uuid[])`;
}

async function insertClicks(tx: Sql, clicks: readonly Click[], dedup: Dedup): Promise<number> {
  if (clicks.length === 0) return 0;
  const { owners, capped } = await lockLinks(tx, clicks.map((c) => c.urlId));
  const live = clicks.filter((c) => owners.has(c.urlId));
  const kept = dedup === "receipts" && live.length > 0 ? await takeReceipts(tx, live) : live;
  if (kept.length === 0) return 0;
  // Flagged here, off the request path: see bots.ts.
  const bots = botFlags(kept);
  const rollups = countRollups(kept.map((c, i) => ({
    urlId: c.urlId, day: utcDay(c.at), referrer: referrerKey(c.referrer), agent: agentFamily(c.userAgent), bot: bots[i]!,
  })));
  // Pipelined like the locks: PostgreSQL runs them in order, the batch waits for one round trip.
  // A batch without capped links settles nothing and sends nothing more.
  const claimed = capped.size === 0 ? [] : kept.filter((c) => capped.has(c.urlId));
  await Promise.all([insertEvents(tx, kept, bots, owners), upsertRollups(tx, rollups), settleClaims(tx, claimed)]);
  return kept.length;
}

export function createClicksRepo(sql: Sql) {
  return {
    /**
     * Inserts one `clicked` event per click (and its rollups) and returns how many were written;
     * clicks of deleted links are skipped. `conn` is the caller's transaction when it has one.
     */
    insertBatch: (clicks: readonly Click[], conn?: Sql) =>
      conn ? insertClicks(conn, clicks, "none") : sql.begin((tx) => insertClicks(tx as unknown as Sql, clicks, "none")),
    /**
     * The same, skipping click ids written before (click_receipts): a crash in the middle of the
     * old stream's drain reads entries again, and a concurrent writer of one id waits on the
     * unique index and then skips it.
     */
    insertOnce: (clicks: readonly Click[]) => sql.begin((tx) => insertClicks(tx as unknown as Sql, clicks, "receipts")),
  };
}

export type ClicksRepo = ReturnType<typeof createClicksRepo>;
