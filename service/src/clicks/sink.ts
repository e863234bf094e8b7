/**
 * Where redirects put their clicks: this instance's spool on local disk (wire.ts builds it).
 */
import type { Click } from "./model.ts";

export interface ClickSink {
  /**
   * Takes the click; never throws, never waits on PostgreSQL. Resolves once the spool write
   * holding the click returned (true) or the click was counted as dropped (false): the redirect
   * answers only then, so a kill -9 right after a 302 cannot lose that click. Nothing (void)
   * when clicks are off. A capped link's claim needs to know which (redirect/click-cap.ts).
   */
  record(click: Click): void | boolean | Promise<void | boolean>;
  /** Ships what the spool holds to PostgreSQL now; resolves when that attempt is over (it may have failed). */
  flushNow(): Promise<void>;
  /** Stops shipping, writes the last clicks and ships what it can in a bounded time; called once at shutdown. */
  stop(): Promise<void>;
}
