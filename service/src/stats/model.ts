/** GET /urls/:id/stats: the query, the response schema, and the date-range rules. */
import { t, type Static } from "elysia";
import { badRequest } from "../http/errors.ts";
import { JsonInt } from "../http/openapi.ts";

/** Longest range one request may ask for, in days (both ends included). */
export const MAX_RANGE_DAYS = 366;
/** Range when neither end is given: the last 30 days, today (UTC) included. */
export const DEFAULT_RANGE_DAYS = 30;
/** Entries in each top list. */
export const TOP_N = 10;

const day = (description: string) => t.Optional(t.String({ description }));
export const StatsQuery = t.Object({
  from: day("first day, YYYY-MM-DD (UTC); default: 29 days before `to`"),
  to: day("last day, YYYY-MM-DD (UTC), included; default: today"),
  include_bots: t.Optional(t.Boolean({
    description: "true: count clicks from crawlers, link unfurlers and monitors (told by their User-Agent) too; default false",
    example: true,
  })),
});
export type StatsQueryInput = Static<typeof StatsQuery>;

const count = (key: string, description: string) =>
  t.Array(t.Object({ [key]: t.String(), clicks: JsonInt() }), { description });

export const Stats = t.Object({
  url_id: JsonInt(),
  short_code: t.String(),
  total_clicks: JsonInt({ description: "clicks from `from` to `to`, both included (bots' only with include_bots=true)" }),
  bot_clicks: JsonInt({ description: "of the range's clicks, those from bots: left out of every other number unless include_bots=true" }),
  from: t.String(),
  to: t.String(),
  daily: t.Array(t.Object({ date: t.String(), clicks: JsonInt() }), { description: "every day of the range, oldest first, zeros included" }),
  top_referrers: count("referrer", "referrer hosts, most clicks first; (direct) without a Referer, (other) when it has no host"),
  top_user_agents: count("user_agent", "browser or client families (chrome, firefox, safari, edge, bot, curl, …; (none) without a header)"),
});

export interface DayRange { from: string; to: string }

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Parses YYYY-MM-DD as a real calendar day (2024-02-30 is refused), in UTC ms. */
function parseDay(value: string, name: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN;
  if (Number.isNaN(ms) || iso(ms) !== value) throw badRequest(`${name} must be a date as YYYY-MM-DD, not ${JSON.stringify(value.slice(0, 32))}`);
  return ms;
}

/** The range asked for, with defaults filled in; 400 when malformed, reversed or too long. */
export function dayRange(query: StatsQueryInput, now: Date): DayRange {
  const to = query.to === undefined ? Date.parse(`${iso(now.getTime())}T00:00:00Z`) : parseDay(query.to, "to");
  const from = query.from === undefined ? to - (DEFAULT_RANGE_DAYS - 1) * DAY_MS : parseDay(query.from, "from");
  if (from > to) throw badRequest(`from (${iso(from)}) must not be after to (${iso(to)})`);
  const days = (to - from) / DAY_MS + 1;
  if (days > MAX_RANGE_DAYS) throw badRequest(`the range may span at most ${MAX_RANGE_DAYS} days, not ${days}`);
  return { from: iso(from), to: iso(to) };
}

export interface StatsRows {
  /** `clicks` as asked (with or without bots); `bot_clicks` always the bots'. */
  daily: { date: string; clicks: number; bot_clicks: number }[];
  referrers: { referrer: string; clicks: number }[];
  agents: { agent: string; clicks: number }[];
}

export function statsJson(url: { id: number; shortCode: string }, range: DayRange, rows: StatsRows): Static<typeof Stats> {
  return {
    url_id: url.id,
    short_code: url.shortCode,
    total_clicks: rows.daily.reduce((sum, d) => sum + d.clicks, 0),
    bot_clicks: rows.daily.reduce((sum, d) => sum + d.bot_clicks, 0),
    from: range.from,
    to: range.to,
    daily: rows.daily.map((d) => ({ date: d.date, clicks: d.clicks })),
    top_referrers: rows.referrers.map((r) => ({ referrer: r.referrer, clicks: r.clicks })),
    top_user_agents: rows.agents.map((a) => ({ user_agent: a.agent, clicks: a.clicks })),
  };
}
