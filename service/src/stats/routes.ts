/** GET /urls/:id/stats: click statistics from the rollups; same auth as GET /urls/:id. */
import { Elysia } from "elysia";
import { authenticated, type Authenticator } from "../http/auth.ts";
import { ErrorBody } from "../http/openapi.ts";
import { parsePathId, pathId } from "../http/params.ts";
import { Stats, StatsQuery } from "./model.ts";
import type { StatsService } from "./service.ts";

export function statsRoutes(deps: { auth: Authenticator; stats: StatsService }) {
  const { stats } = deps;
  return new Elysia({ prefix: "/urls" })
    .use(authenticated(deps.auth))
    .get("/:id/stats", async ({ principal, params, query }) => stats.get(principal, parsePathId(params.id, "url"), query), {
      params: pathId, query: StatsQuery,
      response: { 200: Stats, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      detail: { tags: ["urls"], summary: "Click statistics of a link: total, per day, top referrers and user agents" },
    });
}
