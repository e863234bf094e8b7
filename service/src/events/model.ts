/** Events as the API sees them: input schemas, the output schema and the row → JSON mapping. */
import { t, type Static } from "elysia";
import { JsonInt } from "../http/openapi.ts";
import { badRequest } from "../http/errors.ts";
import { jsonId, pagingQuery } from "../http/params.ts";
import { formatTimestamp } from "../lib/time.ts";
import type { EventRow } from "../db/schema.ts";

export const CreateEventBody = t.Object({
  url_id: jsonId("link the event is about; 404 when unknown"),
  user_id: jsonId("user the event is about; 404 when unknown"),
  event_type: t.String({ minLength: 1, maxLength: 64, pattern: "\\S", description: "e.g. created, updated, clicked, or your own" }),
  // Checked by `eventDetails`: Elysia's body normaliser turns an array or string into an object
  // before an object schema sees it, so a `t.Object` here would accept `"details": [1]`.
  details: t.Optional(t.Unknown({ description: "JSON object; default {}" })),
});
export type CreateEventInput = Static<typeof CreateEventBody>;

export const EventListQuery = t.Object({
  url_id: t.Optional(t.Integer({ description: "only events of this link" })),
  user_id: t.Optional(t.Integer({ description: "only events of this user" })),
  event_type: t.Optional(t.String({ description: "exact event type" })),
  ...pagingQuery,
});
export type EventListInput = Static<typeof EventListQuery>;

export const Event = t.Object({
  id: JsonInt(),
  url_id: JsonInt(),
  user_id: JsonInt(),
  event_type: t.String(),
  timestamp: t.String({ description: "UTC, YYYY-MM-DDTHH:MM:SS" }),
  details: t.Record(t.String(), t.Unknown()),
});
export type EventJson = Static<typeof Event>;

export const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** `details` as sent: missing means `{}`; anything but a JSON object is a 400. */
export function eventDetails(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (isJsonObject(value)) return value;
  const kind = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
  throw badRequest(`body field 'details' must be a JSON object, not ${kind}`, { fields: [{ field: "details", message: "Expected object" }] });
}

export const eventJson = (row: EventRow): EventJson => ({
  id: row.id,
  url_id: row.urlId,
  user_id: row.userId,
  event_type: row.eventType,
  timestamp: formatTimestamp(row.timestamp),
  // Rows written by older tools could hold another JSON value; the contract promises an object.
  details: isJsonObject(row.details) ? row.details : { value: row.details },
});
