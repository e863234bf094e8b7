/**
 * Link options as the API sees them (issue #18): a chosen code (`alias`), an expiry, a click cap
 * and query forwarding. Their schemas for the create and update bodies and the Url output, the
 * checks a schema cannot make (reserved words, "in the future"), and the row → JSON mapping.
 * What a redirect does with them is redirect/'s.
 */
import { t } from "elysia";
import { JsonInt } from "../http/openapi.ts";
import { ApiError, badRequest } from "../http/errors.ts";
import { formatTimestamp, parseTimestamp } from "../lib/time.ts";
import { RESERVED_SEGMENTS } from "../redirect/reserved-segments.ts";
import type { UrlRow } from "../db/schema.ts";

// 16 is the short_code column and the longest path the redirect treats as a code. 4 at least:
// the few shorter ones are the ones everybody wants, and two- or three-letter words are easy to
// squat by the thousand.
export const ALIAS_MIN = 4;
export const ALIAS_MAX = 16;
export const ALIAS_PATTERN = `^[A-Za-z0-9_-]{${ALIAS_MIN},${ALIAS_MAX}}$`;

/** 2^53 - 1: the largest count a JSON number carries exactly; the column (bigint) holds more. */
export const MAX_CLICKS_LIMIT = Number.MAX_SAFE_INTEGER;

// The contract's timestamp form with a `T`, UTC only (a `Z` or `+00:00` suffix, or none).
const EXPIRES_AT_PATTERN = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?(Z|[+-]00:?00)?$";

const alias = t.String({
  pattern: ALIAS_PATTERN,
  error: `alias must be ${ALIAS_MIN} to ${ALIAS_MAX} characters of A-Z, a-z, 0-9, '_' and '-'`,
  description: `the link's short code instead of a generated one: ${ALIAS_MIN} to ${ALIAS_MAX} characters of A-Z a-z 0-9 _ -, `
    + "case-sensitive (Promo and promo are two codes). 400 when it is a fixed path of the API in any case (health, Docs, USERS, …); "
    + "409 when a live link has it, or a deleted link had it (a code is never reused)",
  examples: ["spring-sale"],
});

const expiresAt = t.Union([
  t.String({ pattern: EXPIRES_AT_PATTERN, description: "UTC instant, YYYY-MM-DDTHH:MM:SS[.fff][Z]" }),
  t.Null(),
], {
  error: "expires_at must be a UTC timestamp YYYY-MM-DDTHH:MM:SS[.fff] (optionally ending in Z or +00:00), or null",
  description: "from this UTC instant on, the code answers 410 instead of redirecting. Must be in the future when sent; "
    + "kept to the millisecond; no limit beyond the year 9999. null or absent: never expires (on PUT, null clears it, absent keeps it)",
  examples: ["2030-06-01T00:00:00Z"],
});

const maxClicks = t.Union([
  t.Number({ multipleOf: 1, minimum: 1, maximum: MAX_CLICKS_LIMIT }),
  t.Null(),
], {
  error: `max_clicks must be a whole number from 1 to ${MAX_CLICKS_LIMIT}, or null`,
  description: `after this many counted clicks the code answers 410. A JSON integer from 1 to ${MAX_CLICKS_LIMIT} (2^53 - 1). `
    + "null or absent: no cap (on PUT, null clears it, absent keeps it)",
  examples: [1000],
});

const forwardQuery = t.Boolean({
  error: "forward_query must be true or false",
  description: "true: a visit's query string is added to original_url on redirect. Default false: Location is original_url byte for byte",
  examples: [true],
});

const urlTimestampOrNull = t.Union([t.String({ description: "UTC, YYYY-MM-DDTHH:MM:SS[.fff]" }), t.Null()], {
  description: "when the link stops redirecting (410), or null for never",
  examples: ["2030-06-01T00:00:00"],
});

export const linkOptionFields = {
  create: {
    alias: t.Optional(alias),
    expires_at: t.Optional(expiresAt),
    max_clicks: t.Optional(maxClicks),
    forward_query: t.Optional(forwardQuery),
  },
  update: {
    expires_at: t.Optional(expiresAt),
    max_clicks: t.Optional(maxClicks),
    forward_query: t.Optional(forwardQuery),
  },
  output: {
    expires_at: urlTimestampOrNull,
    max_clicks: t.Union([JsonInt({ minimum: 1 }), t.Null()], { description: "click cap, or null for none", examples: [1000] }),
    forward_query: t.Boolean({ description: "whether a visit's query string is added to original_url" }),
  },
};

export const optionsJson = (row: UrlRow) => ({
  expires_at: row.expiresAt === null ? null : formatTimestamp(row.expiresAt),
  max_clicks: row.maxClicks,
  forward_query: row.forwardQuery,
});

const fieldError = (field: string, problem: string) =>
  badRequest(`body field '${field}' ${problem}`, { fields: [{ field, message: problem }] });

// Elysia and Bun route case-sensitively, so `/HEALTH` would reach a code; but Caddy's path
// matcher does not (its `/metrics` rule catches `/METRICS`), and a link that looks like an API
// path in another case only confuses. Reserved in every case.
const RESERVED_LOWER = new Set([...RESERVED_SEGMENTS].map((segment) => segment.toLowerCase()));

/** 400 when an alias names a fixed path of the API; its shape is the schema's. */
export function checkAlias(value: string): void {
  if (RESERVED_LOWER.has(value.toLowerCase())) {
    throw fieldError("alias", `'${value}' is reserved: /${value.toLowerCase()} is a path of the API, in any letter case`);
  }
}

/** The expiry as a Date: 400 for an impossible date (February 30) or a time not in the future. */
export function parseExpiresAt(value: string, now: number): Date {
  const date = parseTimestamp(value);
  if (date === undefined) throw fieldError("expires_at", `'${value}' is not a real date and time`);
  if (date.getTime() <= now) {
    throw fieldError("expires_at", `must be in the future: ${formatTimestamp(date)} is not after now (${formatTimestamp(new Date(now))} UTC)`);
  }
  return date;
}

/** 409 for an alias a live link has, or a deleted link had. */
export function aliasUnavailable(value: string, why: "taken" | "retired"): ApiError {
  const message = why === "taken"
    ? `alias taken: '${value}' is the short code of another link`
    : `alias retired: '${value}' was the short code of a deleted link, and codes are never reused`;
  return new ApiError("conflict", message, { field: "alias", reason: why });
}
