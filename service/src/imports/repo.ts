/**
 * Every SQL statement of the imports. A batch goes in as one JSON array per statement
 * (`json_to_recordset`: one parameter however many rows, parsed by PostgreSQL in C) with
 * conflicts and dangling references skipped in SQL (`ON CONFLICT DO NOTHING`, `EXISTS`), so one
 * bad row never aborts its batch; callers diff the returned keys against what they sent.
 * Measured at 0.77–0.89 × the speed of `psql \copy` on 200k urls rows; COPY itself was faster
 * (≈ 1.0 ×) but postgres.js 3.4.9 never settles a COPY the server refuses (porsager/postgres#1173),
 * and working around that meant patching the driver's internals.
 */
import type { Sql } from "../db/client.ts";
import { isServerError } from "../db/errors.ts";
import type { TableName } from "./columns.ts";
import type { SeedEvent, SeedUrl, SeedUser, UploadedUser } from "./rows.ts";

export type SeedRow = SeedUser | SeedUrl | SeedEvent;

export function createImportsRepo(sql: Sql) {
  return {
    /** Server-assigned ids; returns the usernames that went in (the others were taken). */
    async insertUploadedUsers(rows: UploadedUser[]): Promise<Set<string>> {
      const inserted = await sql<{ username: string }[]>`
        insert into users (username, email, created_at)
        select r.username, r.email, coalesce(r.created_at, localtimestamp)
        from json_to_recordset(${JSON.stringify(rows)}::json) as r(username text, email text, created_at timestamp)
        on conflict do nothing
        returning username`;
      return new Set(inserted.map((r) => r.username));
    },

    /** Which of these usernames and emails an existing user holds. */
    async takenUserFields(usernames: string[], emails: string[]): Promise<{ usernames: Set<string>; emails: Set<string> }> {
      const rows = await sql<{ username: string; email: string }[]>`
        select username, email from users where username = any(${usernames}::text[]) or email = any(${emails}::text[])`;
      return { usernames: new Set(rows.map((r) => r.username)), emails: new Set(rows.map((r) => r.email)) };
    },

    /** Keeps the file's ids, skipping conflicts and dangling references; returns the ids that went in. */
    async insertSeedRows(table: TableName, rows: SeedRow[]): Promise<Set<number>> {
      const json = JSON.stringify(rows);
      const inserted = await (table === "users" ? sql<{ id: number }[]>`
        insert into users (id, username, email, created_at)
        select * from json_to_recordset(${json}::json) as r(id int, username text, email text, created_at timestamp)
        on conflict do nothing returning id`
        : table === "urls" ? sql<{ id: number }[]>`
        insert into urls (id, user_id, short_code, original_url, title, is_active, created_at, updated_at)
        select * from json_to_recordset(${json}::json)
          as r(id int, user_id int, short_code text, original_url text, title text, is_active boolean, created_at timestamp, updated_at timestamp)
        where exists (select 1 from users u where u.id = r.user_id)
        on conflict do nothing returning id`
        : sql<{ id: number }[]>`
        insert into events (id, url_id, user_id, event_type, timestamp, details)
        select r.id, r.url_id, r.user_id, r.event_type, r.timestamp, r.details::jsonb
        from json_to_recordset(${json}::json) as r(id bigint, url_id int, user_id int, event_type text, timestamp timestamp, details text)
        where exists (select 1 from urls u where u.id = r.url_id) and exists (select 1 from users u where u.id = r.user_id)
          -- The partitioned events' key is (id, timestamp): an id taken at another time is a conflict too.
          and not exists (select 1 from events e where e.id = r.id)
        on conflict do nothing returning id`);
      // events.id is int8, which postgres.js returns as a string.
      return new Set(inserted.map((r) => Number(r.id)));
    },

    /** For rows that did not go in: which of their ids and references exist now. */
    async existing(table: TableName, ids: number[]): Promise<Set<number>> {
      const rows = await sql<{ id: number | string }[]>`select id from ${sql(table)} where id = any(${ids}::bigint[])`;
      return new Set(rows.map((r) => Number(r.id)));
    },

    /** Which short codes are taken, to tell a duplicate code from a duplicate id. */
    async takenShortCodes(codes: string[]): Promise<Set<string>> {
      const rows = await sql<{ short_code: string }[]>`select short_code from urls where short_code = any(${codes}::text[])`;
      return new Set(rows.map((r) => r.short_code));
    },

    /** Which of these codes belonged to deleted links. */
    async retiredShortCodes(codes: string[]): Promise<Set<string>> {
      const rows = await sql<{ code: string }[]>`select code from retired_codes where code = any(${codes}::text[])`;
      return new Set(rows.map((r) => r.code));
    },

    /** After explicit ids, the next server-assigned id must be max(id) + 1 (1 for an empty table). */
    async resetSequence(table: TableName): Promise<void> {
      await sql`
        select setval(pg_get_serial_sequence(${table}, 'id'), coalesce((select max(id) from ${sql(table)}), 0) + 1, false)`;
    },
  };
}

export type ImportsRepo = ReturnType<typeof createImportsRepo>;

/**
 * A PostgreSQL error that one row's values can cause (SQLSTATE class 22 data exception, 23
 * integrity violation, e.g. a referenced row deleted meanwhile). Validation should prevent them;
 * when one slips through, the batch is retried row by row so the good rows still go in.
 */
export function isRowError(err: unknown): err is Error {
  // An exhausted id sequence (2200H) would fail every row alike: the import stops instead.
  return isServerError(err) && err.code !== "2200H" && (err.code.startsWith("22") || err.code.startsWith("23"));
}

/** Runs `insert` on the batch; after a row error, on each row alone, collecting each refused row's reason. */
export async function insertRowByRowOnError<R, K>(
  rows: R[],
  insert: (rows: R[]) => Promise<Set<K>>,
): Promise<{ inserted: Set<K>; refused: Map<R, string> }> {
  const refused = new Map<R, string>();
  try {
    return { inserted: await insert(rows), refused };
  } catch (err) {
    if (!isRowError(err)) throw err;
    if (rows.length === 1) return { inserted: new Set(), refused: refused.set(rows[0]!, `the database refused it: ${err.message}`) };
  }
  const inserted = new Set<K>();
  for (const row of rows) {
    try {
      for (const k of await insert([row])) inserted.add(k);
    } catch (err) {
      if (!isRowError(err)) throw err;
      refused.set(row, `the database refused it: ${err.message}`);
    }
  }
  return { inserted, refused };
}
