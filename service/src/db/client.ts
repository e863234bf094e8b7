/** The PostgreSQL pool (postgres.js) and the drizzle handle over it. */
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema.ts";
import { createSocketWatchdog, type PgSocketOptions } from "./socket-watchdog.ts";
import { connectionTarget } from "./primary.ts";

export type Db = PostgresJsDatabase<typeof schema>;
export type Sql = postgres.Sql;

export interface DbOptions {
  url: string;
  poolMax: number;
  statementTimeoutMs: number;
  /** PostgreSQL's lock_timeout; omitted or 0: a lock wait is bounded by the statement timeout only. */
  lockTimeoutMs?: number;
  applicationName: string;
  /**
   * A connection with a request outstanding that hears nothing for this long is closed and its
   * queries fail (503): a frozen server or a cut network (socket-watchdog.ts). Omitted or 0: never.
   */
  responseTimeoutMs?: number;
  /**
   * A request still waiting for a connection of the pool after this long (every connection busy
   * or opening) is rejected with QUEUE_TIMEOUT (503) and never runs; one already sent is not
   * touched. Omitted or 0: it waits until a connection is free. Needs deploy/patch-postgres.ts.
   */
  queueTimeoutMs?: number;
  /** Called each time the response timeout closes a connection, with the deadline that applied. */
  onResponseTimeout?: (silentMs: number, limitMs: number) => void;
  /** A cluster URL (target_session_attrs=read-write): called when the primary followed changes (primary.ts). */
  onPrimaryChange?: (primary: string | undefined) => void;
  /** A cluster URL only: connections go to any server that answers, a hot standby preferred, and are read only (primary.ts). */
  reads?: boolean;
}

export function connect(opts: DbOptions): { sql: Sql; db: Db } {
  const watchdog = opts.responseTimeoutMs ? createSocketWatchdog({ silenceMs: opts.responseTimeoutMs, onSilence: opts.onResponseTimeout }) : undefined;
  const target = connectionTarget(opts.url, opts.applicationName, { watch: watchdog?.watch, onPrimaryChange: opts.onPrimaryChange, reads: opts.reads });
  // postgres.js reads a `socket` factory that its typings do not declare.
  const socket = target.socket ? { socket: target.socket } : watchdog ? { socket: (o: PgSocketOptions & { ssl?: unknown }) => watchdog.socket(o) } : {};
  // An option deploy/patch-postgres.ts adds (seconds, like connect_timeout): not in the typings either.
  const queueTimeout = opts.queueTimeoutMs ? { queue_timeout: opts.queueTimeoutMs / 1000 } : {};
  const sql = postgres(target.url, {
    ...socket,
    ...queueTimeout,
    max: opts.poolMax,
    // A dead server must fail requests fast instead of queueing them for the default 30 s.
    connect_timeout: 5,
    // postgres.js waits 3^n/100 s (up to 20 s) before the pool's next connection attempt after n
    // failures in a row, with every queued request waiting too: after a few seconds of outage
    // requests waited longer than any client, and recovery lagged the server by as much. A
    // second at most keeps both bounded (the failures are cheap: a refused or timed-out connect).
    backoff: (failures: number) => Math.min(0.05 * 2 ** failures, 1),
    idle_timeout: 60,
    max_lifetime: 30 * 60,
    onnotice: () => {},
    connection: {
      application_name: opts.applicationName,
      TimeZone: "UTC",
      statement_timeout: opts.statementTimeoutMs,
      lock_timeout: opts.lockTimeoutMs ?? 0,
      ...(opts.reads ? { default_transaction_read_only: true } : {}),
    },
  });
  return { sql, db: drizzle(sql, { schema }) };
}
