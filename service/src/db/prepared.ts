/**
 * Statements written as SQL and sent as named prepared statements: one round trip each.
 * drizzle sends its queries unnamed, and postgres.js has the server describe an unnamed
 * statement with parameters before it runs it, so every drizzle query costs two round trips.
 * The write paths that must be one statement (a link with its `created` event, urls/repo.ts)
 * run here instead, and their rows are mapped by the schema's own columns, exactly as drizzle
 * maps a select, so the API sees the same values either way.
 */
import { getTableColumns, type Table } from "drizzle-orm";
import type { Db, Sql } from "./client.ts";

/** What a statement's parameters may be; each is cast in the SQL, so the server never guesses. */
export type Param = string | number | boolean | null;
export type RawRow = Record<string, unknown>;

/** The postgres.js pool under the drizzle handle (connect() makes one from the other); a transaction (`begin`) starts here. */
export const clientOf = (db: Db): Sql => (db as Db & { $client: Sql }).$client;

/** Runs `text` ($1, $2, … placeholders) as a prepared statement on the pool, or on `conn` (a transaction). */
export function prepared(db: Db, text: string, params: readonly Param[], conn?: Sql): Promise<RawRow[]> {
  return (conn ?? clientOf(db)).unsafe<RawRow[]>(text, [...params], { prepare: true });
}

/** Maps a row returned as `table`'s columns (`returning *`) to drizzle's row type for it. */
export function rowMapper<T extends Table>(table: T): (raw: RawRow) => T["$inferSelect"] {
  const columns = Object.entries(getTableColumns(table));
  return (raw) => {
    const row: Record<string, unknown> = {};
    for (const [key, column] of columns) {
      const value = raw[column.name];
      row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
    }
    return row as T["$inferSelect"];
  };
}

/**
 * A PostgreSQL array literal, sent as one text parameter and cast in the SQL (`$1::text::int[]`):
 * postgres.js serialises arrays only once it has loaded the server's array types, which a fresh
 * pool has not. Every element is quoted; null is NULL.
 */
export const arrayLiteral = (items: readonly (string | number | null)[]): string =>
  `{${items.map((item) => (item === null ? "NULL" : `"${String(item).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`)).join(",")}}`;
