/** GET /:short_code: public, no key. Registered last so fixed paths win over codes. */
import { Elysia, t } from "elysia";
import { ErrorBody } from "../http/openapi.ts";
import { notFound } from "../http/errors.ts";
import type { ClientIpResolver } from "../http/client-ip.ts";
import { redirectAnswer } from "./answer.ts";
import { isCodeShaped } from "./model.ts";
import type { RedirectService } from "./service.ts";

export function redirectRoutes(deps: { redirect: RedirectService; clientIp: ClientIpResolver }) {
  const { redirect, clientIp } = deps;
  return new Elysia().get("/:short_code", async ({ params, request, server }) => {
    const code = params.short_code;
    if (!isCodeShaped(code)) throw notFound(`short code ${JSON.stringify(code.slice(0, 32))} not found`);
    const value = await redirect.follow(code, {
      referrer: request.headers.get("referer"),
      userAgent: request.headers.get("user-agent"),
      clientIp: clientIp(request, server?.requestIP(request)?.address),
      countClick: request.method !== "HEAD",
    });
    return redirectAnswer(value, code);
  }, {
    params: t.Object({ short_code: t.String({ description: "the link's code" }) }),
    response: { 302: t.Void({ description: "Location is the link's original_url, byte for byte" }), 404: ErrorBody, 410: ErrorBody },
    detail: { tags: ["redirect"], security: [], summary: "Follow a short code (302 to original_url)" },
  });
}
