/**
 * Where redirects put their clicks. Two implementations: the in-process buffer (buffer.ts) and,
 * later, a Redis stream shared by all instances. A redirect never waits on either.
 */
import type { Click } from "./model.ts";

export interface ClickSink {
  /** Takes the click and returns at once; never throws, never waits on PostgreSQL. */
  record(click: Click): void;
  /** Writes what is held now; resolves when that attempt is over (it may have failed). */
  flushNow(): Promise<void>;
  /** Stops background work and writes whatever is still held; called once at shutdown. */
  stop(): Promise<void>;
}
