/**
 * Which clicks came from crawlers, link unfurlers and monitors, by user agent, with the list npm's
 * `isbot` keeps. Decided when the shipper writes a batch, not when the redirect answers: the spool
 * line already carries the user agent, so the redirect pays nothing for it, and spool lines written
 * before this release are flagged the same way when they ship. docs/PERFORMANCE.md ("Bot flagging")
 * has what one call costs.
 */
import { isbot } from "isbot";
import type { Click } from "./model.ts";

/**
 * True for a user agent on isbot's list, or one that no browser sends (curl, python-requests,
 * Bun's and Node's fetch). A click without the header is a person's: privacy tools and some mail
 * clients strip it, and isbot says the same.
 */
export function isBotAgent(userAgent: string | undefined): boolean {
  return userAgent !== undefined && isbot(userAgent);
}

/** One flag per click, in order. A batch repeats few agents, so each distinct one is matched once. */
export function botFlags(clicks: readonly Pick<Click, "userAgent">[]): boolean[] {
  const seen = new Map<string | undefined, boolean>();
  return clicks.map(({ userAgent }) => {
    let bot = seen.get(userAgent);
    if (bot === undefined) seen.set(userAgent, (bot = isBotAgent(userAgent)));
    return bot;
  });
}
