/**
 * The two reads behind /admin/links. Today's clicks come from the daily rollup (click_daily,
 * written with each click batch), never from events. Every connection runs with TimeZone=UTC,
 * so current_date is the UTC day the rollup keys by.
 */
import type { Sql } from "../db/client.ts";
import type { FoundLinkJson, TopLinkJson } from "./model.ts";

/** `text` as a LIKE pattern that matches it literally (backslash is the escape character). */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export function createAdminLinksRepo(sql: Sql) {
  // A found link's columns and its clicks today (0 when the rollup has no row for it yet).
  const SELECTED = sql`u.id, u.user_id, u.short_code, u.original_url, u.title, u.is_active,
    coalesce(cd.clicks, 0) as clicks_today, coalesce(cd.bot_clicks, 0) as bot_clicks_today`;
  const TODAY = sql`left join click_daily cd on cd.url_id = u.id and cd.day = current_date`;

  return {
    /**
     * The links clicked most today: the top rows of today's rollup first (click_daily_day_idx
     * reads only today's), then only those links: the join never touches the rest of urls.
     */
    async top(limit: number): Promise<TopLinkJson[]> {
      return sql<TopLinkJson[]>`
        select u.id, u.user_id, u.short_code, u.original_url, u.title, u.is_active,
          cd.clicks as clicks_today, cd.bot_clicks as bot_clicks_today
        from (select url_id, clicks, bot_clicks from click_daily where day = current_date
              order by clicks desc, url_id limit ${limit}) cd
        join urls u on u.id = cd.url_id
        order by cd.clicks desc, cd.url_id`;
    },

    /**
     * The code itself, then codes that start with `q` (in code order), then links whose
     * destination contains `q` in any letter case (newest first), `limit` rows in all. One
     * statement per part, run only while rows are missing: a search its code parts answer
     * never pays for the destination part, which reads urls until it has enough rows
     * (docs/PERFORMANCE.md, "Operator link search").
     */
    async search(q: string, limit: number): Promise<FoundLinkJson[]> {
      const prefix = `${likeLiteral(q)}%`;
      const contains = `%${likeLiteral(q)}%`;
      const parts = [
        (n: number) => sql<FoundLinkJson[]>`
          select ${SELECTED}, 'code' as match from urls u ${TODAY}
          where u.short_code = ${q} limit ${n}`,
        (n: number) => sql<FoundLinkJson[]>`
          select ${SELECTED}, 'code_prefix' as match from urls u ${TODAY}
          where u.short_code like ${prefix} escape '\\' and u.short_code <> ${q}
          order by u.short_code limit ${n}`,
        (n: number) => sql<FoundLinkJson[]>`
          select ${SELECTED}, 'url' as match from urls u ${TODAY}
          where u.original_url ilike ${contains} escape '\\' and u.short_code not like ${prefix} escape '\\'
          order by u.id desc limit ${n}`,
      ];
      const found: FoundLinkJson[] = [];
      for (const part of parts) {
        if (found.length >= limit) break;
        found.push(...await part(limit - found.length));
      }
      return found;
    },
  };
}

export type AdminLinksRepo = ReturnType<typeof createAdminLinksRepo>;
