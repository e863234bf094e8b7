/** The one mapping from a lookup's value to the redirect's response, for the fast path and the Elysia route. */
import { jsonResponse } from "../http/errors.ts";
import type { Lookup } from "./model.ts";

/** 302 to the link, 404 for an unknown code, 410 for an inactive one; X-Cache names the source. */
export function redirectAnswer(value: Lookup, shortCode: string, requestId?: string): Response {
  if (value.kind === "found") {
    return new Response(null, {
      status: 302,
      headers: requestId === undefined
        ? { Location: value.location, "x-cache": value.source }
        : { Location: value.location, "x-request-id": requestId, "x-cache": value.source },
    });
  }
  // The bodies notFound()/gone would render, without building an Error (and its stack) for each
  // of a scan's 404s: the answer to most of a random-code flood.
  const [status, body] = value.kind === "missing"
    ? [404, { error: "Not Found", message: `short code ${shortCode} not found` }]
    : [410, { error: "Gone", message: `short code ${shortCode} is inactive` }];
  const headers: Record<string, string> = { "x-cache": value.source };
  if (requestId !== undefined) headers["x-request-id"] = requestId;
  return jsonResponse(status, body, headers);
}
