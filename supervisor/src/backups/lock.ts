/**
 * @module One backup runner across VMs that share a database: each round first takes a session
 * advisory lock on a connection of its own. The server releases it when that session ends, so a
 * supervisor that dies mid-dump never leaves the lock behind.
 */
import { closeSession, openSession, serverVersion, type Session } from "./connection.ts";

/** Fixed id of the backup lock ("11f0" for linkfort, 0010 for backups). */
export const BACKUP_LOCK_ID = 0x11f0_0010;

export type ServerInfo = { text: string; major: number };

export type Locked<T> =
  | { status: "ran"; value: T }
  /** Another session (another VM's supervisor) holds the lock. */
  | { status: "busy" }
  /** Could not connect or query: the database is unreachable from here. */
  | { status: "unreachable"; error: string };

/**
 * Runs `fn` while holding the lock; `fn` also learns the server's version and gets the session
 * (on the primary) for questions of its own. A hot standby takes advisory locks too, but only
 * among its own sessions: a lock there would not exclude a supervisor that reached the primary,
 * so a URL that lands on a standby is refused (a cluster URL needs target_session_attrs=read-write).
 */
export async function withAdvisoryLock<T>(url: string, lockId: number, fn: (server: ServerInfo, session: Session) => Promise<T>): Promise<Locked<T>> {
  const sql = openSession(url, "linkfort-backup-lock");
  try {
    let server: ServerInfo;
    try {
      const [standby] = await sql<{ in_recovery: boolean }[]>`select pg_is_in_recovery() as in_recovery`;
      if (standby?.in_recovery) return { status: "unreachable", error: "DATABASE_URL reached a hot standby, where the backup lock would exclude no other supervisor: point it at the primary (a cluster URL needs target_session_attrs=read-write)" };
      const [row] = await sql<{ locked: boolean }[]>`select pg_try_advisory_lock(${lockId}) as locked`;
      if (!row?.locked) return { status: "busy" };
      server = await serverVersion(sql);
    } catch (err) {
      return { status: "unreachable", error: describeConnectError(err) };
    }
    return { status: "ran", value: await fn(server, sql) };
  } finally {
    // Ending the session releases the lock; no explicit unlock that could fail on a dead connection.
    await closeSession(sql);
  }
}

function describeConnectError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return [e.code, e.message].filter(Boolean).join(": ") || String(err);
}
