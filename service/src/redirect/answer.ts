/** The one mapping from a lookup's value to the redirect's response, for the fast path and the Elysia route. */
import { jsonResponse } from "../http/errors.ts";
import { withForwardedQuery } from "./forward-query.ts";
import type { Outcome } from "./model.ts";

/**
 * 302 to the link, 404 for an unknown code, 410 for an inactive or expired one; X-Cache names
 * the source. `request` is read (its URL) only for a link that forwards its query.
 */
export function redirectAnswer(value: Outcome, shortCode: string, request: Request, requestId?: string): Response {
  if (value.kind === "found") {
    const location = value.options?.forwardQuery ? withForwardedQuery(value.location, request.url) : value.location;
    return new Response(null, {
      status: 302,
      headers: requestId === undefined
        ? { Location: location, "x-cache": value.source }
        : { Location: location, "x-request-id": requestId, "x-cache": value.source },
    });
  }
  // The bodies notFound()/gone would render, without building an Error (and its stack) for each
  // of a scan's 404s: the answer to most of a random-code flood.
  const [status, body] = value.kind === "missing"
    ? [404, { error: "Not Found", message: `short code ${shortCode} not found` }]
    : [410, { error: "Gone", message: goneMessage(value, shortCode) }];
  const headers: Record<string, string> = { "x-cache": value.source };
  if (requestId !== undefined) headers["x-request-id"] = requestId;
  return jsonResponse(status, body, headers);
}

// An ISO instant with its `Z`: unlike the API's zone-less timestamps, this is read by visitors.
const goneMessage = (value: Extract<Outcome, { kind: "inactive" | "expired" }>, shortCode: string) =>
  value.kind === "expired"
    ? `short code ${shortCode} expired at ${new Date(value.expiresAt).toISOString()}`
    : `short code ${shortCode} is inactive`;
