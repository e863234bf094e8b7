/**
 * The plans of the two API reads the growth target covers, as the service sends them: GET
 * /events?url_id=… (events/repo.ts, through drizzle) and the three rollup reads of GET
 * /urls/:id/stats (stats/repo.ts). postgres.js prepares its statements, and after five runs
 * PostgreSQL may switch a prepared statement to a generic plan, so each query is explained both
 * ways: with its values (custom) and as the generic plan. The stats reads are the default ones,
 * bots' clicks left out (include_bots=true reads `clicks` where these read `clicks - bot_clicks`).
 */
import type { Sql } from "postgres";

const QUERIES = {
  events: {
    types: "int, int, int",
    text: `select "id", "url_id", "user_id", "event_type", "timestamp", "details" from "events"
           where "events"."url_id" = $1 order by "events"."id" asc limit $2 offset $3`,
  },
  statsDaily: {
    types: "int, date, date",
    text: `select to_char(d, 'YYYY-MM-DD') as date, coalesce((clicks - bot_clicks), 0)::float8 as clicks,
             coalesce(bot_clicks, 0)::float8 as bot_clicks
           from generate_series($2::date, $3::date, interval '1 day') d
           left join click_daily cd on cd.url_id = $1 and cd.day = d::date order by d`,
  },
  statsReferrers: {
    types: "int, date, date",
    text: `select referrer, sum((clicks - bot_clicks))::float8 as clicks from click_referrers
           where url_id = $1 and day between $2::date and $3::date
           group by referrer having sum((clicks - bot_clicks)) > 0 order by 2 desc, 1 limit 10`,
  },
  statsAgents: {
    types: "int, date, date",
    text: `select agent, sum((clicks - bot_clicks))::float8 as clicks from click_agents
           where url_id = $1 and day between $2::date and $3::date
           group by agent having sum((clicks - bot_clicks)) > 0 order by 2 desc, 1 limit 10`,
  },
} as const;

export type Plans = Record<keyof typeof QUERIES, { custom: string[]; generic: string[] }>;

/** EXPLAIN (ANALYZE, BUFFERS) of each read for one link and day range, both plan kinds. */
export async function explainReads(sql: Sql, urlId: number, range: { from: string; to: string }): Promise<Plans> {
  const { from, to } = range;
  const out = {} as Plans;
  const conn = await sql.reserve();
  try {
    for (const [name, q] of Object.entries(QUERIES) as [keyof typeof QUERIES, (typeof QUERIES)[keyof typeof QUERIES]][]) {
      const values = name === "events" ? `${urlId}, 20, 0` : `${urlId}, '${from}', '${to}'`;
      const plan = async (mode: "force_custom_plan" | "force_generic_plan") => {
        await conn.unsafe(`set plan_cache_mode = ${mode}; prepare bench_q (${q.types}) as ${q.text}`);
        try {
          const rows = await conn.unsafe(`explain (analyze, buffers) execute bench_q (${values})`);
          return rows.map((r) => String((r as Record<string, unknown>)["QUERY PLAN"]));
        } finally {
          await conn.unsafe("deallocate bench_q");
        }
      };
      out[name] = { custom: await plan("force_custom_plan"), generic: await plan("force_generic_plan") };
    }
    await conn.unsafe("reset plan_cache_mode");
  } finally {
    conn.release();
  }
  return out;
}
