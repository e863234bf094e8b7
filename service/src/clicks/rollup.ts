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

/** The UTC day of a click, YYYY-MM-DD: the day its rollup rows count it under. */
export const utcDay = (at: Date) => at.toISOString().slice(0, 10);

/** Clicks per key of one rollup table, one entry per distinct key, as columns for unnest(). */
export interface RollupColumns {
  urlIds: number[];
  days: string[];
  /** The referrer host or agent family; absent for the daily rollup. */
  keys: string[];
  clicks: number[];
  /** Of `clicks`, those from bots (clicks/bots.ts); stats leave them out unless asked. */
  botClicks: number[];
}

export interface BatchRollups {
  daily: RollupColumns;
  referrers: RollupColumns;
  agents: RollupColumns;
}

interface CountedClick { urlId: number; day: string; referrer: string; agent: string; bot: boolean }

/**
 * Counts a batch's clicks per (url, day), (url, day, referrer) and (url, day, agent) so each
 * rollup row is upserted once per batch, whatever the number of clicks on it. (The upsert sorts
 * the keys itself, in PostgreSQL's order, so that every writer locks rows in the same order.)
 */
export function countRollups(clicks: readonly CountedClick[]): BatchRollups {
  const count = (key: (c: CountedClick) => string | undefined): RollupColumns => {
    const counts = new Map<string, { urlId: number; day: string; key: string; clicks: number; botClicks: number }>();
    for (const c of clicks) {
      const k = key(c) ?? "";
      const id = `${c.urlId}\u0000${c.day}\u0000${k}`;
      let row = counts.get(id);
      if (!row) counts.set(id, (row = { urlId: c.urlId, day: c.day, key: k, clicks: 0, botClicks: 0 }));
      row.clicks++;
      if (c.bot) row.botClicks++;
    }
    const rows = [...counts.values()];
    return {
      urlIds: rows.map((r) => r.urlId), days: rows.map((r) => r.day), keys: rows.map((r) => r.key),
      clicks: rows.map((r) => r.clicks), botClicks: rows.map((r) => r.botClicks),
    };
  };
  return { daily: count(() => undefined), referrers: count((c) => c.referrer), agents: count((c) => c.agent) };
}
