/** HTTP for /admin/links (admin keys only): the operator console's links at a glance. */
import { Elysia, t } from "elysia";
import { adminOnly, type Authenticator } from "../http/auth.ts";
import { ErrorBody } from "../http/openapi.ts";
import { requireUtf8Query } from "../http/utf8-query.ts";
import type { Sql } from "../db/client.ts";
import { FoundLink, SearchQuery, TopLink, TopQuery, rowLimit } from "./model.ts";
import { createAdminLinksRepo } from "./repo.ts";

export function adminLinksRoutes(deps: { auth: Authenticator; sql: Sql }) {
  const links = createAdminLinksRepo(deps.sql);
  const detail = { tags: ["links at a glance"] };
  const refusals = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody };
  return new Elysia({ prefix: "/admin/links" })
    .use(adminOnly(deps.auth))
    .get("/top", async ({ query, request }) => {
      requireUtf8Query(request);
      return [...await links.top(rowLimit(query.limit))];
    }, {
      query: TopQuery,
      response: { 200: t.Array(TopLink), ...refusals },
      detail: { ...detail, summary: "The links clicked most in the current UTC day (from the daily click rollup), most first" },
    })
    .get("/search", async ({ query, request }) => {
      requireUtf8Query(request);
      return [...await links.search(query.q, rowLimit(query.limit))];
    }, {
      query: SearchQuery,
      response: { 200: t.Array(FoundLink), ...refusals },
      detail: { ...detail, summary: "Find links by short code (exact, then prefix) or by a part of the destination URL, with today's clicks" },
    });
}
