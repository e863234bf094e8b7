/** HTTP for /admin/bans (admin keys only): validate, call the service, map to JSON. */
import { Elysia, t } from "elysia";
import { adminOnly, type Authenticator } from "../http/auth.ts";
import { ErrorBody, NoContent } from "../http/openapi.ts";
import { parseBigPathId, pathId } from "../http/params.ts";
import { Ban, BansQuery, banJson } from "./model.ts";
import type { BansService } from "./bans.ts";

export function bansRoutes(deps: { auth: Authenticator; bans: BansService; now: () => number }) {
  const { bans } = deps;
  const detail = { tags: ["bans"] };
  return new Elysia({ prefix: "/admin/bans" })
    .use(adminOnly(deps.auth))
    .get("", async ({ principal, query }) => {
      const rows = await bans.list(principal, query.include_lifted ?? false);
      const at = deps.now();
      return rows.map((row) => banJson(row, at));
    }, {
      query: BansQuery,
      response: { 200: t.Array(Ban), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      detail: { ...detail, summary: "List active bans (include_lifted=true adds those lifted or expired in the last 7 days)" },
    })
    .delete("/:id", async ({ principal, params, set }) => {
      await bans.lift(principal, parseBigPathId(params.id, "ban"));
      set.status = 204;
    }, {
      params: pathId,
      response: { 204: NoContent, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      detail: { ...detail, summary: "Lift a ban at once, on every instance (idempotent)" },
    });
}
