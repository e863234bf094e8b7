/**
 * The one SQL statement for clicks: `clicked` events plus their rollups (per url per UTC day,
 * per referrer host, per agent family), all in one statement. The spool shipper runs it inside
 * the transaction that moves its spool offset (offsets-repo.ts), which is what makes a click
 * count once; the one-shot drain of the old Redis stream runs it with click receipts instead.
 */
import type { Sql } from "../db/client.ts";
import { clickDetails, type Click } from "./model.ts";
import { agentFamily, referrerKey } from "./rollup.ts";

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
 * Takes the links' owners and then the links themselves FOR KEY SHARE, in id order, before the
 * insert. A DELETE of a link or a user locks in that order too (user, then links, then their
 * events and rollups by cascade); without this the insert's foreign-key checks and rollup upserts
 * took their locks in whatever order its CTEs ran, and a delete meanwhile deadlocked with it (a
 * 500 for the DELETE, seen under load). Must run in the caller's transaction to hold.
 */
async function lockLinks(tx: Sql, urlIds: readonly number[]): Promise<void> {
  const ids = pgArrayLiteral([...new Set(urlIds)]);
  await tx`select 1 from users where id in (select user_id from urls where id = any(${ids}::text::int[])) order by id for key share`;
  await tx`select 1 from urls where id = any(${ids}::text::int[]) order by id for key share`;
}

async function insertClicks(conn: Sql, clicks: readonly Click[], dedup: Dedup): Promise<number> {
  if (clicks.length === 0) return 0;
  await lockLinks(conn, clicks.map((c) => c.urlId));
  const col = <T extends string | number>(f: (c: Click) => T) => pgArrayLiteral(clicks.map(f));
  // Joining to urls takes the owner from the link and silently skips clicks whose link was
  // deleted, instead of failing the whole batch on the foreign key. Rollup rows are upserted in
  // key order so two writers lock them in the same order.
  const receipts = dedup === "receipts";
  const freshCte = receipts ? conn`fresh as (insert into click_receipts (click_id) select click_id from c on conflict do nothing returning click_id),` : conn``;
  const freshJoin = receipts ? conn`join fresh using (click_id)` : conn``;
  const [row] = await conn<{ written: number }[]>`
    with c as (
      select *
      from unnest(
        ${col((c) => c.id)}::text::uuid[], ${col((c) => c.urlId)}::text::int[],
        ${col((c) => c.at.toISOString())}::text::timestamptz[], ${col((c) => JSON.stringify(clickDetails(c)))}::text::jsonb[],
        ${col((c) => referrerKey(c.referrer))}::text::text[], ${col((c) => agentFamily(c.userAgent))}::text::text[]
      ) with ordinality as c(click_id, url_id, at, details, referrer, agent, n)
    ),
    ${freshCte}
    kept as (
      select c.*, u.user_id, (c.at at time zone 'UTC') as ts, (c.at at time zone 'UTC')::date as day
      from c ${freshJoin} join urls u on u.id = c.url_id
    ),
    ins as (
      insert into events (url_id, user_id, event_type, timestamp, details)
      select url_id, user_id, 'clicked', ts, details from kept order by n
      returning 1
    ),
    daily as (
      insert into click_daily (url_id, day, clicks)
      select url_id, day, count(*) from kept group by 1, 2 order by 1, 2
      on conflict (url_id, day) do update set clicks = click_daily.clicks + excluded.clicks
    ),
    referrers as (
      insert into click_referrers (url_id, day, referrer, clicks)
      select url_id, day, referrer, count(*) from kept group by 1, 2, 3 order by 1, 2, 3
      on conflict (url_id, day, referrer) do update set clicks = click_referrers.clicks + excluded.clicks
    ),
    agents as (
      insert into click_agents (url_id, day, agent, clicks)
      select url_id, day, agent, count(*) from kept group by 1, 2, 3 order by 1, 2, 3
      on conflict (url_id, day, agent) do update set clicks = click_agents.clicks + excluded.clicks
    )
    select count(*)::int as written from ins`;
  return row?.written ?? 0;
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
    insertOnce: (clicks: readonly Click[]) => sql.begin((tx) => insertClicks(tx as unknown as Sql, dedupById(clicks), "receipts")),
  };
}

/** One click per id: a batch naming an id twice would otherwise insert it twice before its receipt exists. */
const dedupById = (clicks: readonly Click[]) => [...new Map(clicks.map((c) => [c.id, c])).values()];

export type ClicksRepo = ReturnType<typeof createClicksRepo>;
