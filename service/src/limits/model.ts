/** Bans as /admin/bans shows them: query and output schemas and row → JSON. */
import { t, type Static } from "elysia";
import { JsonInt } from "../http/openapi.ts";
import type { BanRow } from "../db/schema.ts";
import { formatTimestamp } from "../lib/time.ts";

export const LEVELS = { 1: "temporary", 2: "permanent" } as const;
const timestamp = t.String({ description: "UTC, YYYY-MM-DDTHH:MM:SS" });

export const BansQuery = t.Object({
  include_lifted: t.Optional(t.Boolean({ description: "also list bans lifted or expired in the last 7 days" })),
});

export const Ban = t.Object({
  id: JsonInt(),
  subject: t.String({ description: "client IPv4 address, IPv6 network (e.g. 2001:db8:1:2::/64, see RATE_LIMIT_IPV6_PREFIX), or SHA-256 hex of the API key as presented" }),
  kind: t.Union([t.Literal("ip"), t.Literal("key")]),
  level: t.Union([t.Literal("temporary"), t.Literal("permanent")]),
  reason: t.String(),
  until: t.Union([timestamp, t.Null()], { description: "null: permanent" }),
  created_at: timestamp,
  lifted_at: t.Union([timestamp, t.Null()]),
  active: t.Boolean(),
});
export type BanJson = Static<typeof Ban>;

export function banJson(row: BanRow, now: number): BanJson {
  return {
    id: row.id,
    subject: row.subject,
    kind: row.kind,
    level: row.level >= 2 ? LEVELS[2] : LEVELS[1],
    reason: row.reason,
    until: row.until ? formatTimestamp(row.until) : null,
    created_at: formatTimestamp(row.createdAt),
    lifted_at: row.liftedAt ? formatTimestamp(row.liftedAt) : null,
    active: row.liftedAt === null && (row.until === null || row.until.getTime() > now),
  };
}
