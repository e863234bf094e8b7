/**
 * The one SQL statement for clicks: `clicked` events plus their rollups (per url per UTC day,
 * per referrer host, per agent family), all in one statement and so one transaction. Both sinks
 * use it, so GET /urls/:id/stats is right whichever path a click took.
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

export function createClicksRepo(sql: Sql) {
  return {
    /**
     * Inserts one `clicked` event per click not seen before and returns how many were written.
     * `click_receipts` makes the statement idempotent: a click id already there (a redelivered
     * stream entry) is skipped, and a concurrent writer of the same id waits on the unique index
     * and then skips it. Joining to urls takes the owner from the link and silently skips clicks
     * whose link was deleted, instead of failing the whole batch on the foreign key. Rollup rows
     * are upserted in key order so two writers lock them in the same order.
     */
    async insertBatch(clicks: readonly Click[]): Promise<number> {
      if (clicks.length === 0) return 0;
      const col = <T extends string | number>(f: (c: Click) => T) => pgArrayLiteral(clicks.map(f));
      const [row] = await sql<{ written: number }[]>`
        with c as (
          select distinct on (click_id) *
          from unnest(
            ${col((c) => c.id)}::text::uuid[], ${col((c) => c.urlId)}::text::int[],
            ${col((c) => c.at.toISOString())}::text::timestamptz[], ${col((c) => JSON.stringify(clickDetails(c)))}::text::jsonb[],
            ${col((c) => referrerKey(c.referrer))}::text::text[], ${col((c) => agentFamily(c.userAgent))}::text::text[]
          ) with ordinality as c(click_id, url_id, at, details, referrer, agent, n)
          order by click_id, n
        ),
        fresh as (
          insert into click_receipts (click_id) select click_id from c on conflict do nothing returning click_id
        ),
        kept as (
          select c.*, u.user_id, (c.at at time zone 'UTC') as ts, (c.at at time zone 'UTC')::date as day
          from c join fresh using (click_id) join urls u on u.id = c.url_id
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
    },
  };
}

export type ClicksRepo = ReturnType<typeof createClicksRepo>;
