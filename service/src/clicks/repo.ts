/** The one SQL statement for clicks: a multi-row insert of `clicked` events. */
import type { Sql } from "../db/client.ts";
import { clickDetails, type Click } from "./model.ts";

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
     * Inserts one `clicked` event per click and returns how many were written. Joining the
     * arrays to urls takes the owner from the link and silently skips clicks whose link was
     * deleted after the redirect, instead of failing the whole batch on the foreign key.
     */
    async insertBatch(clicks: readonly Click[]): Promise<number> {
      if (clicks.length === 0) return 0;
      const ids = clicks.map((c) => c.urlId);
      const ats = clicks.map((c) => c.at.toISOString());
      const details = clicks.map((c) => JSON.stringify(clickDetails(c)));
      const result = await sql`
        insert into events (url_id, user_id, event_type, timestamp, details)
        select u.id, u.user_id, 'clicked', c.at at time zone 'UTC', c.details
        from unnest(${pgArrayLiteral(ids)}::text::int[], ${pgArrayLiteral(ats)}::text::timestamptz[], ${pgArrayLiteral(details)}::text::jsonb[]) with ordinality as c(url_id, at, details, n)
        join urls u on u.id = c.url_id
        order by c.n`;
      return result.count;
    },
  };
}

export type ClicksRepo = ReturnType<typeof createClicksRepo>;
