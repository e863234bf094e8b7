/** The redirect's lookup: one query on the unique index of urls.short_code. */
import type { Sql } from "../db/client.ts";
import type { Resolution } from "./model.ts";

interface Row {
  id: number;
  original_url: string;
  is_active: boolean;
}

export function createRedirectRepo(sql: Sql) {
  return {
    // postgres.js directly: a prepared statement with no query builder in the hot path.
    async resolve(shortCode: string): Promise<Resolution> {
      const [row] = await sql<Row[]>`select id, original_url, is_active from urls where short_code = ${shortCode}`;
      if (!row) return { kind: "missing" };
      if (!row.is_active) return { kind: "inactive" };
      return { kind: "found", target: { urlId: row.id, shortCode, originalUrl: row.original_url } };
    },
  };
}
