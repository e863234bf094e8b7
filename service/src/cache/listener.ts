/**
 * The instance's LISTEN connection: a postgres.js client of its own with one connection that
 * no pool recycles, under its own application_name so operators (and tests) can find it in
 * pg_stat_activity. Not postgres.js's `sql.listen`: that one reconnects by itself too, but it
 * never says when the connection dropped, and between a drop and the re-LISTEN every
 * notification is lost, so the cache must stop trusting itself at the drop, not later.
 * It must reach PostgreSQL directly or through a session pooler: a transaction pooler
 * (PgBouncer pool_mode=transaction) accepts LISTEN and then delivers nothing.
 */
import postgres from "postgres";
import { connectionTarget } from "../db/primary.ts";
import type { Logger } from "../lib/logger.ts";

export const INVALIDATE_CHANNEL = "linkfort_invalidate";

// After a failed attempt postgres.js waits this long before connecting again (seconds, doubling
// from 50 ms, at most 1 s): the LRU is bypassed until LISTEN is back, so coming back soon matters.
const reconnectBackoff = (retries: number) => Math.min(0.05 * 2 ** retries, 1);
// A LISTEN that failed without the connection closing (should not happen) waits this long.
const RETRY_MS = 250;

export interface ListenerOptions {
  url: string;
  applicationName: string;
  logger: Logger;
  /** Each payload on the channel, in commit order, as it arrives. */
  onPayload(payload: string): void;
  /** LISTEN is in place; `again` is true when an earlier one had dropped (notifications were lost). */
  onListening(again: boolean): void;
  /** The connection closed: from now until onListening, notifications are lost. */
  onDropped(): void;
}

export function createListener(opts: ListenerOptions) {
  let closes = 0;
  let listening = false;
  let wake: (() => void) | undefined;
  const abort = new AbortController();
  let done: Promise<void> | undefined;

  // postgres.js calls `onnotify` for every NotificationResponse; its type definitions omit it.
  const notify = {
    onnotify: (channel: string, payload: string) => { if (channel === INVALIDATE_CHANNEL) opts.onPayload(payload); },
  };
  // A cluster URL: the LISTEN connection follows the primary too, where NOTIFY is sent (db/primary.ts).
  const target = connectionTarget(opts.url, opts.applicationName);
  const sql = postgres(target.url, {
    ...(target.socket ? { socket: target.socket } : {}),
    ...notify,
    max: 1,
    idle_timeout: 0, // never: this connection's whole job is to sit idle
    max_lifetime: null,
    fetch_types: false,
    connect_timeout: 5,
    backoff: reconnectBackoff,
    onnotice: () => {},
    onclose: () => {
      closes++;
      if (listening) {
        listening = false;
        opts.onDropped();
      }
      wake?.();
    },
    connection: { application_name: opts.applicationName },
  });

  /** Waits for the next close or for stop. */
  const closedOrStopped = () => new Promise<void>((resolve) => {
    const stopped = () => resolve();
    wake = () => {
      abort.signal.removeEventListener("abort", stopped);
      resolve();
    };
    abort.signal.addEventListener("abort", stopped, { once: true });
  });

  async function run(): Promise<void> {
    let listenedBefore = false;
    while (!abort.signal.aborted) {
      const closesBefore = closes;
      try {
        await sql.unsafe(`listen ${INVALIDATE_CHANNEL}`);
      } catch (error) {
        if (abort.signal.aborted) break;
        opts.logger.debug("cache invalidation listen failed; retrying", { error });
        if (closes === closesBefore) await Bun.sleep(RETRY_MS);
        continue;
      }
      if (closes !== closesBefore) continue;
      listening = true;
      opts.onListening(listenedBefore);
      listenedBefore = true;
      await closedOrStopped();
      wake = undefined;
    }
  }

  return {
    /** True while LISTEN is in place on a connection that has not closed since. */
    get listening(): boolean {
      return listening;
    },
    start(): void {
      done ??= run();
    },
    async stop(): Promise<void> {
      abort.abort();
      await sql.end({ timeout: 1 }).catch(() => {});
      listening = false;
      await done;
    },
  };
}

export type Listener = ReturnType<typeof createListener>;
