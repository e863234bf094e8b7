/** The redirect's lookup in PostgreSQL: one query on the unique index of urls.short_code. */
import type { Sql } from "../db/client.ts";
import { inactive, locationOf, missing, type Lookup } from "./model.ts";

interface Row {
  id: number;
  original_url: string;
  is_active: boolean;
}

export function createRedirectRepo(sql: Sql) {
  return {
    // postgres.js directly: a prepared statement with no query builder in the hot path.
    async resolve(shortCode: string): Promise<Lookup> {
      const [row] = await sql<Row[]>`select id, original_url, is_active from urls where short_code = ${shortCode}`;
      if (!row) return missing("db");
      if (!row.is_active) return inactive("db");
      return { kind: "found", urlId: row.id, location: locationOf(row.original_url), source: "db" };
    },
  };
}

export type RedirectRepo = ReturnType<typeof createRedirectRepo>;
