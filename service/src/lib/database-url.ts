/**
 * @module PostgreSQL connection URLs as libpq writes them, including the multi-host form a
 * cluster uses: `postgres://user:pw@h1:5432,h2:5432,h3:5432/db?target_session_attrs=read-write`.
 * WHATWG `new URL()` rejects that authority (a port may hold only digits), so every place that
 * reads or rewrites DATABASE_URL (config validation, log redaction, another database on the same
 * server, libpq arguments for pg_dump) goes through this parser instead.
 */

export interface DatabaseHost {
  host: string;
  port: number;
}

export interface DatabaseUrl {
  scheme: "postgres" | "postgresql";
  /** Decoded; empty when the URL names none. */
  user: string;
  password: string;
  hosts: DatabaseHost[];
  /** Decoded; empty when the URL names none (libpq then uses the user name). */
  database: string;
  params: URLSearchParams;
}

export class DatabaseUrlError extends Error {
  override name = "DatabaseUrlError";
}

const DEFAULT_PORT = 5432;

function parseHost(text: string): DatabaseHost {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d*))?$/.exec(text);
  const plain = /^([^:[\]/?#@\s]+)(?::(\d*))?$/.exec(text);
  const match = bracketed ?? plain;
  if (!match) throw new DatabaseUrlError(`"${text}" is not a host or host:port`);
  const port = match[2] ? Number(match[2]) : DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DatabaseUrlError(`port ${match[2]} of ${match[1]} is not between 1 and 65535`);
  return { host: decodeURIComponent(match[1]!), port };
}

/** Throws DatabaseUrlError naming what is wrong. */
export function parseDatabaseUrl(raw: string): DatabaseUrl {
  const head = /^(postgres|postgresql):\/\/([^/?#]*)(.*)$/s.exec(raw.trim());
  if (!head) throw new DatabaseUrlError("must be a postgres:// or postgresql:// URL");
  const [, scheme, authority, rest] = head as unknown as [string, "postgres" | "postgresql", string, string];
  const at = authority.lastIndexOf("@");
  const userinfo = at === -1 ? "" : authority.slice(0, at);
  const hostList = at === -1 ? authority : authority.slice(at + 1);
  const colon = userinfo.indexOf(":");
  let tail: URL;
  try {
    tail = new URL(`http://placeholder${rest}`);
  } catch {
    throw new DatabaseUrlError("has a path or query that cannot be read");
  }
  const database = decodeURIComponent(tail.pathname.replace(/^\//, ""));
  if (database.includes("/")) throw new DatabaseUrlError("names a database with a slash in it");
  return {
    scheme,
    user: decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(0, colon)),
    password: colon === -1 ? "" : decodeURIComponent(userinfo.slice(colon + 1)),
    // None (postgres:///db): libpq's and postgres.js's default host, PGHOST or a local socket.
    hosts: hostList === "" ? [] : hostList.split(",").map(parseHost),
    database,
    params: tail.searchParams,
  };
}

const formatHost = ({ host, port }: DatabaseHost) => `${host.includes(":") ? `[${host}]` : encodeURIComponent(host)}:${port}`;

export function formatDatabaseUrl(url: DatabaseUrl): string {
  const userinfo = url.user || url.password
    ? `${encodeURIComponent(url.user)}${url.password ? `:${encodeURIComponent(url.password)}` : ""}@`
    : "";
  const query = url.params.toString();
  return `${url.scheme}://${userinfo}${url.hosts.map(formatHost).join(",")}/${encodeURIComponent(url.database)}${query ? `?${query}` : ""}`;
}

/** The same servers and credentials, another database. */
export function withDatabase(raw: string, database: string): string {
  return formatDatabaseUrl({ ...parseDatabaseUrl(raw), database });
}

/** For logs: the password (userinfo and a `password` parameter) replaced by ***. */
export function redactDatabaseUrl(raw: string): string {
  const url = parseDatabaseUrl(raw);
  const params = new URLSearchParams(url.params);
  params.delete("password");
  const shown = formatDatabaseUrl({ ...url, password: "", params });
  return url.password ? shown.replace("@", ":***@") : shown;
}

/**
 * True when the URL asks for a server that accepts writes (libpq's read-write, or primary): the
 * form a cluster's DATABASE_URL must have, and the one src/db/primary.ts follows.
 */
export const wantsPrimary = (url: DatabaseUrl): boolean => ["read-write", "primary"].includes(url.params.get("target_session_attrs") ?? "any");

/**
 * Why `url` cannot be the service's DATABASE_URL, or undefined. The service writes: several hosts
 * need target_session_attrs=read-write (or primary), else a connection may land on a replica.
 */
export function serviceUrlProblem(url: DatabaseUrl): string | undefined {
  const attrs = url.params.get("target_session_attrs");
  if (attrs !== null && !["any", "read-write", "primary"].includes(attrs)) return "target_session_attrs must be read-write (or primary, or any for a single host): the service writes";
  if (wantsPrimary(url) && url.hosts.length === 0) return "target_session_attrs=read-write needs the hosts written in the URL";
  if (url.hosts.length > 1 && !wantsPrimary(url)) return "a URL with several hosts needs target_session_attrs=read-write, so connections go to the primary";
  return undefined;
}
