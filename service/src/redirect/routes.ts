/** GET /:short_code: public, no key. Registered last so fixed paths win over codes. */
import { Elysia, t } from "elysia";
import { ErrorBody } from "../http/openapi.ts";
import type { ClientIpResolver } from "../http/client-ip.ts";
import type { RedirectService } from "./service.ts";

export function redirectRoutes(deps: { redirect: RedirectService; clientIp: ClientIpResolver }) {
  const { redirect, clientIp } = deps;
  return new Elysia().get("/:short_code", async ({ params, request, server, set }) => {
    const target = await redirect.follow(params.short_code, {
      referrer: request.headers.get("referer"),
      userAgent: request.headers.get("user-agent"),
      clientIp: clientIp(request, server?.requestIP(request)?.address),
      countClick: request.method !== "HEAD",
    }, (source) => { set.headers["x-cache"] = source; }); // also lands on the 404/410 error responses
    return new Response(null, { status: 302, headers: { Location: target } });
  }, {
    params: t.Object({ short_code: t.String({ description: "the link's code" }) }),
    response: { 302: t.Void({ description: "Location is the link's original_url, byte for byte" }), 404: ErrorBody, 410: ErrorBody },
    detail: { tags: ["redirect"], security: [], summary: "Follow a short code (302 to original_url)" },
  });
}
