/** A click as the redirect hands it off, and the `details` object its `clicked` event stores. */

/** One successful redirect. The owner is looked up when the click is written, not carried. */
export interface Click {
  /**
   * Random id given by the redirect; the insert skips an id it has seen, so a stream entry
   * delivered twice (crash between commit and XACK) or a click that reached both the stream and
   * the fallback (an XADD that timed out yet landed) is counted once.
   */
  id: string;
  urlId: number;
  shortCode: string;
  /** When the redirect was answered; the event's timestamp. */
  at: Date;
  referrer?: string;
  userAgent?: string;
  /** The client's address as Caddy reports it (X-Forwarded-For from trusted proxies only). */
  clientIp?: string;
}

export const CLICK_HEADER_MAX = 512;

/**
 * Headers are client input of any length. Keep 512 characters, and drop what jsonb refuses (NUL,
 * a surrogate half left by the cut): one bad value would otherwise fail its whole batch.
 */
export function clickHeader(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  return value.slice(0, CLICK_HEADER_MAX).replaceAll("\u0000", "").toWellFormed();
}

/** A clicked event's details: the headers that were sent, and `bot: true` for a crawler's click. */
export type ClickDetails = Record<string, string | true>;

/** `bot` only when true, so a person's click has the same details as before bots were flagged. */
export function clickDetails(click: Click, bot = false): ClickDetails {
  const details: ClickDetails = { short_code: click.shortCode };
  if (click.referrer !== undefined) details.referrer = click.referrer;
  if (click.userAgent !== undefined) details.user_agent = click.userAgent;
  if (click.clientIp !== undefined) details.client_ip = click.clientIp;
  if (bot) details.bot = true;
  return details;
}
