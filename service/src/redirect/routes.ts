/** GET /:short_code: public, no key. Registered last so fixed paths win over codes. */
import { Elysia, t } from "elysia";
import { ErrorBody } from "../http/openapi.ts";
import { notFound } from "../http/errors.ts";
import type { ClientIpResolver } from "../http/client-ip.ts";
import { redirectAnswer } from "./answer.ts";
import { isCodeShaped } from "./model.ts";
import { PreviewPage, previewAnswer, previewedCode } from "./preview.ts";
import type { RedirectService } from "./service.ts";

// The redirect's 410s, told apart by their message (answer.ts; click-cap.ts for the limit).
const Gone = {
  ...ErrorBody,
  description: "the link is inactive, past its expires_at (the message says when it expired), or has answered its max_clicks",
  examples: [
    { error: "Gone", message: "short code abc123 is inactive" },
    { error: "Gone", message: "short code abc123 expired at 2026-12-31T00:00:00.000Z" },
    { error: "Gone", message: "short code abc123 reached its click limit (1000 clicks)" },
  ],
};

// A capped link's clicks are counted in PostgreSQL only (click-cap.ts); other links do not answer this.
const CapUncountable = {
  ...ErrorBody,
  description: "the link has max_clicks and PostgreSQL cannot count its clicks now (Retry-After says when to try again); also a code not cached while PostgreSQL is down",
  examples: [{ error: "Service Unavailable", message: "short code abc123 has a click limit, and its clicks cannot be counted while the database is unavailable; try again shortly" }],
};

export function redirectRoutes(deps: { redirect: RedirectService; clientIp: ClientIpResolver }) {
  const { redirect, clientIp } = deps;
  return new Elysia().get("/:short_code", async ({ params, request, server }) => {
    const code = params.short_code;
    const previewed = previewedCode(code);
    if (previewed !== undefined && isCodeShaped(previewed)) return previewAnswer(await redirect.peek(previewed), previewed, request);
    if (!isCodeShaped(code)) throw notFound(`short code ${JSON.stringify(code.slice(0, 32))} not found`);
    const value = await redirect.follow(code, {
      referrer: request.headers.get("referer"),
      userAgent: request.headers.get("user-agent"),
      clientIp: clientIp(request, server?.requestIP(request)?.address),
      countClick: request.method !== "HEAD",
    });
    return redirectAnswer(value, code, request);
  }, {
    params: t.Object({ short_code: t.String({ description: "the link's code" }) }),
    response: {
      200: PreviewPage,
      302: t.Void({ description: "Location is the link's original_url, byte for byte; with forward_query, plus the request's query (before its #fragment, joined with & to a query it has)" }),
      404: ErrorBody,
      410: Gone,
      503: CapUncountable,
    },
    detail: { tags: ["redirect"], security: [], summary: "Follow a short code (302 to original_url); with a '+' after it, a page showing where it leads" },
  });
}
