/**
 * The bounded keys the click rollups count by. Raw referrers and user agents are client input
 * of any variety; the rollups keep only a host and a family, so a scanner sending random headers
 * adds at most one row per host (or none for agents) instead of one per request.
 */

/** Referrer key when no Referer header was sent. */
export const DIRECT = "(direct)";
/** Referrer key when the header is not a URL with a host. */
export const UNPARSEABLE = "(other)";
const HOST_MAX = 255;

/** The referrer's host, lowercased ("www.example.com"), or one of the two fixed keys. */
export function referrerKey(referrer: string | undefined): string {
  if (referrer === undefined) return DIRECT;
  try {
    const host = new URL(referrer).hostname.toLowerCase();
    return host === "" || host.length > HOST_MAX ? UNPARSEABLE : host;
  } catch {
    return UNPARSEABLE;
  }
}

// First match wins: bots and tools before browsers, and Edge/Opera/Samsung before Chrome, whose
// token they all carry; Chrome before Safari for the same reason.
const FAMILIES: readonly (readonly [RegExp, string])[] = [
  [/bot\b|bot\/|crawler|spider|slurp|facebookexternalhit|headless/i, "bot"],
  [/^curl\//i, "curl"],
  [/^wget\//i, "wget"],
  [/python-requests|python-urllib|aiohttp|httpx/i, "python"],
  [/go-http-client/i, "go"],
  [/node-fetch|undici|axios|^node|^bun\//i, "node"],
  [/edg(e|a|ios)?\//i, "edge"],
  [/opr\/|opera/i, "opera"],
  [/samsungbrowser/i, "samsung"],
  [/firefox\/|fxios\//i, "firefox"],
  [/chrome\/|crios\/|chromium\//i, "chrome"],
  [/safari\//i, "safari"],
];

/** Agent key when no User-Agent header was sent. */
export const NO_AGENT = "(none)";
export const OTHER_AGENT = "other";

/** A small closed set of families: the rollup never stores a raw user-agent string. */
export function agentFamily(userAgent: string | undefined): string {
  if (userAgent === undefined) return NO_AGENT;
  for (const [pattern, family] of FAMILIES) if (pattern.test(userAgent)) return family;
  return OTHER_AGENT;
}
