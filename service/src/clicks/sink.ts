/**
 * Where redirects put their clicks. Two implementations: the in-process buffer (buffer.ts) and
 * the Redis stream shared by all instances (stream.ts), which falls back to the buffer.
 */
import type { Click } from "./model.ts";

export interface ClickSink {
  /**
   * Takes the click; never throws, never waits on PostgreSQL. The stream sink resolves once
   * Redis holds the click (or the fallback took it): the redirect answers only then, so a
   * kill -9 right after a 302 cannot lose that click.
   */
  record(click: Click): void | Promise<void>;
  /** Writes what is held now; resolves when that attempt is over (it may have failed). */
  flushNow(): Promise<void>;
  /** Stops background work and writes whatever is still held; called once at shutdown. */
  stop(): Promise<void>;
}
