/** Links at a glance for operators (/admin/links): query schemas, output schemas, row → JSON. */
import { t, type Static } from "elysia";
import { JsonInt } from "../http/openapi.ts";
import { badRequest } from "../http/errors.ts";
import { Url } from "../urls/model.ts";

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;
export const MAX_QUERY_LENGTH = 200;

// The range is checked by `rowLimit`: Elysia names a query integer's range error "property", not the field.
const limit = t.Optional(t.Integer({ description: `rows, 1..${MAX_LIMIT} (default ${DEFAULT_LIMIT}); outside that a 400` }));

/** The rows a query asked for; a 400 outside 1..MAX_LIMIT. */
export function rowLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (limit < 1 || limit > MAX_LIMIT) {
    throw badRequest(`query field 'limit': must be an integer from 1 to ${MAX_LIMIT}`, { fields: [{ field: "limit", message: `must be an integer from 1 to ${MAX_LIMIT}` }] });
  }
  return limit;
}

export const TopQuery = t.Object({ limit });

export const SearchQuery = t.Object({
  q: t.String({
    minLength: 1, maxLength: MAX_QUERY_LENGTH,
    // No control characters: PostgreSQL refuses NUL in text, and nothing a link holds has them.
    pattern: "^[^\\u0000-\\u001F\\u007F]+$",
    error: `q must be 1 to ${MAX_QUERY_LENGTH} characters of UTF-8 without control characters`,
    description: "a short code (exact, then prefix, case-sensitive) or a part of a destination URL (case-insensitive)",
  }),
  limit,
});

const linkFields = {
  // The link's own fields as GET /urls/:id answers them.
  ...t.Pick(Url, ["id", "user_id", "short_code", "original_url", "title", "is_active"]).properties,
  clicks_today: JsonInt({ description: "clicks in the current UTC day, bots' included (click rollups; a click shows once its spool batch has shipped, usually within a second)" }),
  bot_clicks_today: JsonInt({ description: "of clicks_today, those from crawlers, unfurlers and monitors" }),
};

export const TopLink = t.Object(linkFields);
export const FoundLink = t.Object({
  ...linkFields,
  match: t.Union([t.Literal("code"), t.Literal("code_prefix"), t.Literal("url")], { description: "why it was found; results come in this order" }),
});
export type TopLinkJson = Static<typeof TopLink>;
export type FoundLinkJson = Static<typeof FoundLink>;

