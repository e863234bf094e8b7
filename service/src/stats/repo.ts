/**
 * Reads the click rollups that clicks/repo.ts maintains; never the events table. Each rollup row
 * counts its bots' clicks apart (bot_clicks, a part of clicks), so leaving bots out is a
 * subtraction, and a key whose clicks were all bots' drops out of the top lists.
 */
import type { Sql } from "../db/client.ts";
import { TOP_N, type DayRange, type StatsRows } from "./model.ts";

export function createStatsRepo(sql: Sql) {
  return {
    /** At most one row per day and key of the range: cost follows the range, not the event count. */
    async read(urlId: number, range: DayRange, includeBots: boolean): Promise<StatsRows> {
      const { from, to } = range;
      // Unqualified: each query reads one rollup table (the daily one beside generate_series).
      const counted = includeBots ? sql`clicks` : sql`(clicks - bot_clicks)`;
      // float8, not int8: postgres.js returns int8 as a string, and a sum over a year may pass int4.
      const [daily, referrers, agents] = await Promise.all([
        sql<StatsRows["daily"]>`
          select to_char(d, 'YYYY-MM-DD') as date, coalesce(${counted}, 0)::float8 as clicks,
            coalesce(bot_clicks, 0)::float8 as bot_clicks
          from generate_series(${from}::date, ${to}::date, interval '1 day') d
          left join click_daily cd on cd.url_id = ${urlId} and cd.day = d::date
          order by d`,
        sql<StatsRows["referrers"]>`
          select referrer, sum(${counted})::float8 as clicks from click_referrers
          where url_id = ${urlId} and day between ${from}::date and ${to}::date
          group by referrer having sum(${counted}) > 0 order by 2 desc, 1 limit ${TOP_N}`,
        sql<StatsRows["agents"]>`
          select agent, sum(${counted})::float8 as clicks from click_agents
          where url_id = ${urlId} and day between ${from}::date and ${to}::date
          group by agent having sum(${counted}) > 0 order by 2 desc, 1 limit ${TOP_N}`,
      ]);
      return { daily: [...daily], referrers: [...referrers], agents: [...agents] };
    },
  };
}

export type StatsRepo = ReturnType<typeof createStatsRepo>;
