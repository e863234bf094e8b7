/** The redirect's reads of PostgreSQL, each on the unique index of urls.short_code. */
import type { Sql } from "../db/client.ts";
import { CODE_PATTERN, inactive, linkOptions, locationOf, missing, type Lookup } from "./model.ts";

interface Row {
  id: number;
  original_url: string;
  is_active: boolean;
  /** Epoch ms: drizzle makes this client return timestamps as text, so SQL converts it. */
  expires_at: number | null;
  // bigint: postgres.js returns it as a string.
  max_clicks: string | null;
  forward_query: boolean;
}

export function createRedirectRepo(sql: Sql) {
  return {
    // postgres.js directly: a prepared statement with no query builder in the hot path.
    async resolve(shortCode: string): Promise<Lookup> {
      const [row] = await sql<Row[]>`select id, original_url, is_active, (extract(epoch from expires_at) * 1000)::float8 as expires_at, max_clicks, forward_query from urls where short_code = ${shortCode}`;
      if (!row) return missing("db");
      if (!row.is_active) return inactive("db");
      const options = linkOptions(row);
      const location = locationOf(row.original_url);
      return options === undefined
        ? { kind: "found", urlId: row.id, location, source: "db" }
        : { kind: "found", urlId: row.id, location, source: "db", options };
    },
    /** About how many rows urls has (the planner's count, no scan): how big to make the set before loading it. */
    async estimatedCodes(): Promise<number> {
      const [row] = await sql<{ rows: number }[]>`select greatest(reltuples, 0)::float8 as rows from pg_class where oid = 'urls'::regclass`;
      return row?.rows ?? 0;
    },
    /**
     * One page of every code, in the unique index's order, as cache/live-codes.ts loads it. A code
     * no path can name (a space or a slash, written around the API) is left out of `codes`: the
     * redirect answers 404 for its path without asking the set, and a space would split it.
     */
    async codesAfter(after: string, limit: number): Promise<{ rows: number; last: string; codes: string }> {
      const [page] = await sql<{ rows: number; last: string | null; codes: string | null }[]>`
        select count(*)::int as rows, max(short_code) as last,
          string_agg(short_code, ' ' order by short_code) filter (where short_code ~ ${CODE_PATTERN}) as codes
        from (select short_code from urls where short_code > ${after} order by short_code limit ${limit}) page`;
      return { rows: page?.rows ?? 0, last: page?.last ?? after, codes: page?.codes ?? "" };
    },
  };
}

export type RedirectRepo = ReturnType<typeof createRedirectRepo>;
