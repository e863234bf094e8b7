/**
 * @module Following a cluster's primary: for a DATABASE_URL with target_session_attrs=read-write
 * (a Patroni cluster's, which lists every host), every connection goes to the server that accepts
 * writes now, and a failover needs no restart.
 *
 * postgres.js 3.4.9 reads multi-host URLs itself, but (measured with service/test/pg-standby.ts)
 * its read-write check reads default_transaction_read_only only, which a hot standby reports as
 * off, so it connects to a standby; and with no acceptable host it retries the list forever, so a
 * query waits without end instead of failing (upstream porsager/postgres#1174). So the driver gets
 * one host (the first; it only shows in its error messages) and this module's socket factory
 * (postgres.js's `socket` option) decides where each connection really goes:
 *
 * - the primary, once found, is remembered; finding it asks every host at once with a short-lived
 *   connection (`pg_is_in_recovery()`, `transaction_read_only`) and takes the first that accepts writes;
 * - with none found, a connection fails at once (code NO_PRIMARY, answered 503) and the search
 *   is not repeated for NONE_FOUND_HOLD_MS: writes during a failover fail fast, never hang;
 * - the remembered primary is forgotten when one of its connections closes without the client
 *   asking (the server died or shut down), when the server reports itself a hot standby or read
 *   only, or when a statement fails with 25006 (read_only_sql_transaction: a demoted primary); in
 *   the last two cases its other connections are closed too, so none is reused for writes.
 *
 * Under TLS the messages are encrypted: only the search and the unexpected close apply.
 *
 * Reads that may go to any server (`connectionTarget(..., { reads: true })`, the redirect's
 * lookups when the primary is slow or gone, redirect/hedged-resolve.ts) have a target of their
 * own: the first host that answers as a hot standby, else any host that answered; remembered until
 * one of its connections closes unasked. Its connections are not the primary's: a search for the
 * primary leaves them open.
 */
import net from "node:net";
import postgres from "postgres";
import { formatDatabaseUrl, parseDatabaseUrl, wantsPrimary, type DatabaseHost } from "../lib/database-url.ts";

/** The connection error code of "no server in the list accepts writes now". */
export const NO_PRIMARY = "NO_PRIMARY";
/** Longest wait for one host's answer during a search (s): a dead host must not hold up the rest. */
const SEARCH_TIMEOUT_S = 2;
/** After a search found nothing, connections fail at once this long before the next search (ms). */
const NONE_FOUND_HOLD_MS = 200;

const PARAMETER_STATUS = 0x53; // 'S' from the server
const ERROR_RESPONSE = 0x45; // 'E' from the server
const READ_ONLY_SQL_TRANSACTION = "25006";

export interface PrimaryFollowerOptions {
  url: string;
  applicationName: string;
}

/** True when connections to `url` need a follower: it asks for the server that takes writes (target_session_attrs=read-write or primary). */
export function needsFollower(url: string): boolean {
  let parsed;
  try {
    parsed = parseDatabaseUrl(url);
  } catch {
    return false; // not ours to judge here: postgres.js reads it, or says what is wrong with it
  }
  return wantsPrimary(parsed) && parsed.hosts.length > 0;
}

const label = (h: DatabaseHost) => `${h.host}:${h.port}`;
const same = (a: DatabaseHost | undefined, b: DatabaseHost) => a !== undefined && a.host === b.host && a.port === b.port;
const connectionError = (message: string) => Object.assign(new Error(message), { code: NO_PRIMARY });

export function createPrimaryFollower(opts: PrimaryFollowerOptions) {
  const parsed = parseDatabaseUrl(opts.url);
  const params = new URLSearchParams(parsed.params);
  params.delete("target_session_attrs");
  const urlOf = (host: DatabaseHost) => formatDatabaseUrl({ ...parsed, hosts: [host], params });

  let current: DatabaseHost | undefined;
  let searching: Promise<DatabaseHost | undefined> | undefined;
  let noneUntil = 0;
  const open = new Set<{ socket: net.Socket; host: DatabaseHost }>();
  const watchers = new Set<(primary: string | undefined) => void>();

  const setCurrent = (host: DatabaseHost | undefined) => {
    if (host === current || (host && same(current, host))) return;
    current = host;
    for (const watcher of watchers) watcher(host && label(host));
  };

  /** What `host` is now: the primary, a hot standby, another read-only server, or undefined (no answer). */
  async function probe(host: DatabaseHost): Promise<"primary" | "standby" | "read-only" | undefined> {
    const sql = postgres(urlOf(host), {
      max: 1, connect_timeout: SEARCH_TIMEOUT_S, fetch_types: false, prepare: false, onnotice: () => {},
      connection: { application_name: `${opts.applicationName}:primary-search` },
    });
    try {
      const answer = sql<{ standby: boolean; read_only: string }[]>`select pg_is_in_recovery() as standby, current_setting('transaction_read_only') as read_only`;
      const timeout = Bun.sleep(SEARCH_TIMEOUT_S * 1000).then(() => undefined);
      const [row] = (await Promise.race([answer, timeout])) ?? [];
      if (row === undefined) return undefined;
      return row.standby ? "standby" : row.read_only === "off" ? "primary" : "read-only";
    } catch {
      return undefined;
    } finally {
      void sql.end({ timeout: 1 }).catch(() => {});
    }
  }

  /** Every host at once; the first acceptable one wins (a healthy cluster has exactly one primary). */
  function search(): Promise<DatabaseHost | undefined> {
    return new Promise((resolve) => {
      let pending = parsed.hosts.length;
      for (const host of parsed.hosts) {
        void probe(host).then((role) => role === "primary").then((ok) => {
          pending--;
          if (ok) resolve(host);
          else if (pending === 0) resolve(undefined);
        });
      }
    });
  }

  async function locate(): Promise<DatabaseHost | undefined> {
    if (current) return current;
    if (Date.now() < noneUntil) return undefined;
    searching ??= search().then((found) => {
      searching = undefined;
      if (!found) noneUntil = Date.now() + NONE_FOUND_HOLD_MS;
      setCurrent(found);
      // Connections to any other server go to one that died, froze or no longer takes writes:
      // closed now, instead of each waiting out its own failure (an idle LISTEN connection to a
      // powered-off host would notice nothing for many minutes).
      for (const entry of open) {
        if (!same(found, entry.host)) entry.socket.destroy(connectionError(`PostgreSQL at ${label(entry.host)} is no longer the primary; connection closed`));
      }
      return found;
    });
    return searching;
  }

  function forget(host: DatabaseHost): void {
    if (same(current, host)) setCurrent(undefined);
  }

  /** The server at `host` accepts no writes: forget it and close its connections (after this tick, so the failing statement gets its own error). */
  function notWritable(host: DatabaseHost): void {
    forget(host);
    setImmediate(() => {
      for (const entry of open) {
        if (same(entry.host, host)) entry.socket.destroy(connectionError(`PostgreSQL at ${label(host)} no longer accepts writes; connection closed`));
      }
    });
  }

  let reader: DatabaseHost | undefined;
  let readerSearch: Promise<DatabaseHost | undefined> | undefined;
  let noReaderUntil = 0;

  /** Every host at once: the first hot standby wins; with none, the first host that answered at all. */
  function searchReader(): Promise<DatabaseHost | undefined> {
    return new Promise((resolve) => {
      let pending = parsed.hosts.length;
      let answered: DatabaseHost | undefined;
      for (const host of parsed.hosts) {
        void probe(host).then((role) => {
          pending--;
          if (role === "standby") resolve(host);
          else if (role !== undefined) answered ??= host;
          if (pending === 0) resolve(answered);
        });
      }
    });
  }

  async function locateReader(): Promise<DatabaseHost | undefined> {
    if (reader) return reader;
    if (Date.now() < noReaderUntil) return undefined;
    readerSearch ??= searchReader().then((found) => {
      readerSearch = undefined;
      if (!found) noReaderUntil = Date.now() + NONE_FOUND_HOLD_MS;
      reader = found;
      return found;
    });
    return readerSearch;
  }

  /** Watches a connected socket for the signs above; its `end()` marks a close the client asked for. */
  function tracked(socket: net.Socket, host: DatabaseHost, ssl: boolean): net.Socket {
    const entry = { socket, host };
    open.add(entry);
    if (!ssl) socket.on("data", serverMessages((type, body) => {
      if (type === PARAMETER_STATUS) {
        const [name, value] = cStrings(body);
        if ((name === "in_hot_standby" || name === "default_transaction_read_only") && value === "on") notWritable(host);
      } else if (type === ERROR_RESPONSE && errorField(body, "C") === READ_ONLY_SQL_TRANSACTION) notWritable(host);
    }));
    socket.on("close", () => open.delete(entry));
    return onUnaskedClose(socket, () => forget(host));
  }

  /** A socket to `host` (connecting), or one that fails at once with `reason` when there is none. */
  function connectTo(host: DatabaseHost | undefined, reason: () => string): net.Socket {
    const socket = new net.Socket();
    // postgres.js writes its startup message as soon as it has the socket: a socket that is
    // connecting holds it, one that is not fails the write with an error of its own. So even
    // the refusal connects (to the first host) and is then closed with the real reason.
    socket.connect(host?.port ?? parsed.hosts[0]!.port, host?.host ?? parsed.hosts[0]!.host);
    if (!host) setImmediate(() => socket.destroy(connectionError(reason())));
    return socket;
  }

  return {
    /** The URL to give postgres.js: one host, no target_session_attrs (this module does that part). */
    url: urlOf(parsed.hosts[0]!),
    /** postgres.js's `socket` option (`ssl`: TLS will wrap the socket, so its messages cannot be read). */
    async socket(ssl = false): Promise<net.Socket> {
      const host = await locate();
      const socket = connectTo(host, () => `no PostgreSQL server of ${parsed.hosts.map(label).join(",")} accepts writes (a failover in progress?)`);
      return host ? tracked(socket, host, ssl) : socket;
    },
    /** postgres.js's `socket` option for reads any server may answer (a hot standby preferred). */
    async readerSocket(): Promise<net.Socket> {
      const host = await locateReader();
      const socket = connectTo(host, () => `no PostgreSQL server of ${parsed.hosts.map(label).join(",")} answers`);
      return host ? onUnaskedClose(socket, () => { if (same(reader, host)) reader = undefined; }) : socket;
    },
    /** The server connections go to now, if known (`host:port`). */
    get primary(): string | undefined {
      return current && label(current);
    },
    /** Calls `watcher` whenever the followed server changes (`host:port`, or undefined while none is known), and now if one is known. */
    onChange(watcher: (primary: string | undefined) => void): void {
      watchers.add(watcher);
      if (current) watcher(label(current));
    },
  };
}

export type PrimaryFollower = ReturnType<typeof createPrimaryFollower>;

/** `socket` with `onClose` called when it closes without the client having called its `end()`. */
function onUnaskedClose(socket: net.Socket, onClose: () => void): net.Socket {
  let closing = false;
  socket.on("close", () => { if (!closing) onClose(); });
  return new Proxy(socket, {
    get(target, key) {
      if (key === "end") return (...args: unknown[]) => { closing = true; return (target.end as (...a: unknown[]) => net.Socket)(...args); };
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
    set(target, key, value) { return Reflect.set(target, key, value, target); },
  });
}

/** Splits a message body into its NUL-terminated strings. */
function cStrings(body: Uint8Array): string[] {
  return new TextDecoder().decode(body).split("\0");
}

/** One field of an ErrorResponse body (a type byte, then its string; a 0 byte ends the list). */
function errorField(body: Uint8Array, field: string): string | undefined {
  for (const part of cStrings(body)) if (part[0] === field) return part.slice(1);
  return undefined;
}

/**
 * Walks the server's length-prefixed messages across chunk boundaries and hands over the body of
 * each ParameterStatus and ErrorResponse (small); other bodies (rows) are skipped, not kept.
 */
export function serverMessages(onMessage: (type: number, body: Uint8Array) => void) {
  const wanted = new Set([PARAMETER_STATUS, ERROR_RESPONSE]);
  let type = -1;
  let header: number[] = [];
  let remaining = 0;
  let body: Uint8Array[] | undefined;
  return (chunk: Uint8Array) => {
    let i = 0;
    while (i < chunk.length) {
      if (type === -1) {
        type = chunk[i++]!;
        continue;
      }
      if (header.length < 4) {
        header.push(chunk[i++]!);
        if (header.length < 4) continue;
        remaining = Math.max(0, (((header[0]! << 24) | (header[1]! << 16) | (header[2]! << 8) | header[3]!) >>> 0) - 4);
        body = wanted.has(type) ? [] : undefined;
      }
      const n = Math.min(remaining, chunk.length - i);
      body?.push(chunk.subarray(i, i + n));
      i += n;
      remaining -= n;
      if (remaining > 0) continue;
      if (body) onMessage(type, Buffer.concat(body));
      type = -1;
      header = [];
      body = undefined;
    }
  };
}

/**
 * One follower per URL in a process (an instance): its pool, its LISTEN connection and its
 * migrations then agree on the primary, and when the pool's search finds the primary moved, the
 * LISTEN connection to the old one is closed too (primary.ts, search).
 */
const followers = new Map<string, PrimaryFollower>();

/**
 * postgres.js options that decide where its connections go: for a cluster URL, one host and a
 * socket factory that follows the primary (above); otherwise the URL as given. `watch`
 * wraps each socket once connected (the response-timeout watchdog).
 */
export function connectionTarget(
  url: string,
  applicationName: string,
  opts: {
    watch?: (socket: net.Socket, ssl: boolean) => net.Socket;
    onPrimaryChange?: (primary: string | undefined) => void;
    /** Any server may answer (a hot standby preferred), not only the primary. */
    reads?: boolean;
  } = {},
): { url: string; socket?: (o: { ssl?: unknown }) => Promise<net.Socket> } {
  if (!needsFollower(url)) return { url };
  let follower = followers.get(url);
  if (!follower) followers.set(url, (follower = createPrimaryFollower({ url, applicationName })));
  if (opts.onPrimaryChange) follower.onChange(opts.onPrimaryChange);
  const watch = opts.watch ?? ((socket: net.Socket) => socket);
  if (opts.reads) return { url: follower.url, socket: async (o) => watch(await follower.readerSocket(), Boolean(o.ssl)) };
  return { url: follower.url, socket: async (o) => watch(await follower.socket(Boolean(o.ssl)), Boolean(o.ssl)) };
}
