/** Links as the API sees them: input schemas, the output schema and the row → JSON mapping. */
import { t, type Static } from "elysia";
import { JsonInt } from "../http/openapi.ts";
import { badRequest } from "../http/errors.ts";
import { jsonId, pagingQuery } from "../http/params.ts";
import { formatTimestamp } from "../lib/time.ts";
import type { UrlRow } from "../db/schema.ts";
import { linkOptionFields, optionsJson } from "./options.ts";


export const ORIGINAL_URL_MAX = 2048;
// http(s)://, then printable ASCII only: no spaces or control characters, and nothing a
// Location header cannot carry byte-for-byte (Bun refuses non-Latin-1 header values and would
// send Latin-1 ones as single bytes). IRIs must be sent percent-encoded.
const ORIGINAL_URL_PATTERN = "^[Hh][Tt][Tt][Pp][Ss]?://[\\x21-\\x7E]+$";

const originalUrl = t.String({
  maxLength: ORIGINAL_URL_MAX,
  pattern: ORIGINAL_URL_PATTERN,
  error: "original_url must be an absolute http:// or https:// URL of at most 2048 printable ASCII characters",
  description: "absolute http:// or https:// URL with a host, printable ASCII (percent-encode the rest); stored and redirected unchanged",
});
const title = t.Union([t.String({ maxLength: 255 }), t.Null()], { description: "free text, or null" });

export const CreateUrlBody = t.Object({
  user_id: jsonId("owner; 404 when unknown"),
  original_url: originalUrl,
  title: t.Optional(title),
  ...linkOptionFields.create,
}, {
  examples: [
    { user_id: 1, original_url: "https://example.com/spring?utm_source=mail", title: "Spring sale" },
    { user_id: 1, original_url: "https://example.com/spring", alias: "spring-sale", expires_at: "2030-06-01T00:00:00Z", max_clicks: 1000, forward_query: true },
  ],
});
/** Every field optional; `title: null` clears the title, leaving it out keeps it (so for `expires_at` and `max_clicks`). */
export const UpdateUrlBody = t.Object({
  title: t.Optional(title),
  is_active: t.Optional(t.Boolean({ description: "false makes the code answer 410" })),
  original_url: t.Optional(originalUrl),
  ...linkOptionFields.update,
}, {
  examples: [{ title: "Spring sale (extended)", expires_at: "2030-07-01T00:00:00Z" }, { expires_at: null, max_clicks: null, forward_query: false }],
});
export type CreateUrlInput = Static<typeof CreateUrlBody>;
export type UpdateUrlInput = Static<typeof UpdateUrlBody>;

export const UrlListQuery = t.Object({
  user_id: t.Optional(t.Integer({ description: "only this user's links" })),
  // Literals, not t.UnionEnum: Elysia fills an absent UnionEnum query value with its first member.
  is_active: t.Optional(t.Union([t.Literal("true"), t.Literal("false")], { description: "true or false" })),
  ...pagingQuery,
});
export type UrlListInput = Static<typeof UrlListQuery>;

export const Url = t.Object({
  id: JsonInt(),
  user_id: JsonInt(),
  short_code: t.String(),
  original_url: t.String(),
  title: t.Union([t.String(), t.Null()]),
  is_active: t.Boolean(),
  created_at: t.String({ description: "UTC, YYYY-MM-DDTHH:MM:SS" }),
  updated_at: t.String({ description: "UTC, YYYY-MM-DDTHH:MM:SS" }),
  ...linkOptionFields.output,
});
export type UrlJson = Static<typeof Url>;

export const urlJson = (row: UrlRow): UrlJson => ({
  id: row.id,
  user_id: row.userId,
  short_code: row.shortCode,
  original_url: row.originalUrl,
  title: row.title,
  is_active: row.isActive,
  created_at: formatTimestamp(row.createdAt),
  updated_at: formatTimestamp(row.updatedAt),
  ...optionsJson(row),
});

/**
 * Why a destination is not acceptable, or undefined when it is. The schema already checked the
 * characters; the WHATWG parser decides whether there is a host (`http://`, `https://:80`).
 * Exported for the CSV import, which must apply the same rule.
 */
export function originalUrlProblem(value: string): string | undefined {
  if (value.length > ORIGINAL_URL_MAX) return `must be at most ${ORIGINAL_URL_MAX} characters`;
  if (!new RegExp(ORIGINAL_URL_PATTERN).test(value)) return "must be an absolute http:// or https:// URL of printable ASCII characters";
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return "is not a valid URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return "must use http or https";
  if (parsed.hostname === "") return "must name a host";
  return undefined;
}

export function checkOriginalUrl(value: string): void {
  const problem = originalUrlProblem(value);
  if (problem) throw badRequest(`body field 'original_url' ${problem}`, { fields: [{ field: "original_url", message: problem }] });
}
