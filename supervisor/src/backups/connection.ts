/**
 * @module How the backup part reaches PostgreSQL: its own short-lived postgres.js sessions, and
 * the libpq arguments for pg_dump/pg_restore with the password kept off the command line
 * (a command line is readable by every user of the machine through /proc; the environment is not).
 */
import postgres from "postgres";
import { connectionTarget } from "../../../service/src/db/primary.ts";
import { formatDatabaseUrl, parseDatabaseUrl, redactDatabaseUrl, withDatabase } from "../../../service/src/lib/database-url.ts";

export type Session = postgres.Sql;

/** One connection, never recycled: a session advisory lock or an exported snapshot lives on it. */
export function openSession(url: string, applicationName: string): Session {
  // A cluster URL: the session goes to the current primary, as the instances' pool does (the
  // advisory lock must be the cluster's one); postgres.js alone would take a standby (db/primary.ts).
  const target = connectionTarget(url, applicationName);
  return postgres(target.url, {
    ...(target.socket ? { socket: target.socket } : {}),
    max: 1,
    connect_timeout: 10,
    idle_timeout: 0,
    // postgres.js recycles connections after 30-60 min by default; that would drop the lock mid-dump.
    max_lifetime: null,
    onnotice: () => {},
    connection: { application_name: applicationName, TimeZone: "UTC" },
  });
}

/** Closes without waiting long: after an outage postgres.js would otherwise wait its full timeout. */
export async function closeSession(sql: Session): Promise<void> {
  await sql.end({ timeout: 2 }).catch(() => {});
}

/** `--dbname` and environment for a libpq tool: the URL without its password, which goes to PGPASSWORD. */
// Multi-host URLs (a cluster) too: libpq reads them natively, WHATWG URL does not (database-url.ts).
export function libpqTarget(url: string): { dbname: string; env: Record<string, string> } {
  const parsed = parseDatabaseUrl(url);
  const env: Record<string, string> = { PGCONNECT_TIMEOUT: "10", PGAPPNAME: "linkfort-backup" };
  const password = parsed.password || parsed.params.get("password");
  if (password) env.PGPASSWORD = password;
  const params = new URLSearchParams(parsed.params);
  params.delete("password");
  return { dbname: formatDatabaseUrl({ ...parsed, password: "", params }), env };
}

/** The same server(s) and credentials, another database. */
export function urlForDatabase(url: string, database: string): string {
  return withDatabase(url, database);
}

export function databaseName(url: string): string {
  return parseDatabaseUrl(url).database || "postgres";
}

/** For logs and CLI output. */
export function redactUrl(url: string): string {
  return redactDatabaseUrl(url);
}

/** `"schema"."table"` for SQL text built from catalog names. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Server version as text and its major (SHOW server_version_num: 150018 → 15). */
export async function serverVersion(sql: Session): Promise<{ text: string; major: number }> {
  const [row] = await sql<{ num: string; text: string }[]>`select current_setting('server_version_num') as num, current_setting('server_version') as text`;
  const num = Number(row?.num ?? 0);
  return { text: row?.text ?? "unknown", major: Math.floor(num / 10_000) };
}

/**
 * Exact row counts of every table that holds rows, outside the system schemas, keyed
 * "schema.table". A partitioned table (events) holds none itself: its rows are counted, and
 * dumped as TABLE DATA, in its partitions, so only those are listed.
 */
export async function countRows(sql: postgres.Sql | postgres.TransactionSql): Promise<Record<string, number>> {
  const tables = await sql<{ schema: string; name: string }[]>`
    select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg\\_temp%'
    order by 1, 2`;
  const counts: Record<string, number> = {};
  if (tables.length === 0) return counts;
  const query = tables
    .map((t, i) => `select ${i} as i, count(*)::bigint as n from ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`)
    .join(" union all ");
  for (const row of await sql.unsafe<{ i: number; n: string }[]>(query)) {
    const t = tables[row.i]!;
    counts[`${t.schema}.${t.name}`] = Number(row.n);
  }
  return counts;
}
