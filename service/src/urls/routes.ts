/** HTTP for /urls: validate, call the service, map to JSON. */
import { Elysia, t } from "elysia";
import { authenticated, type Authenticator } from "../http/auth.ts";
import { ErrorBody, NoContent } from "../http/openapi.ts";
import { parsePathId, pathId } from "../http/params.ts";
import { CreateUrlBody, UpdateUrlBody, Url, UrlListQuery, urlJson } from "./model.ts";
import type { UrlsService } from "./service.ts";

export function urlsRoutes(deps: { auth: Authenticator; urls: UrlsService }) {
  const { urls } = deps;
  const detail = { tags: ["urls"] };
  return new Elysia({ prefix: "/urls" })
    .use(authenticated(deps.auth))
    .post("", async ({ principal, body, set }) => {
      set.status = 201;
      return urlJson(await urls.create(principal, body));
    }, {
      body: CreateUrlBody, response: { 201: Url, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      detail: {
        ...detail,
        summary: "Shorten a URL (the code is generated, or chosen as alias)",
        description: "Optional: `alias` (your own code), `expires_at`, `max_clicks`, `forward_query`. 400 for an invalid field or an alias "
          + "that is a path of the API; 409 (`reason`: `taken` or `retired`) for an alias a link has or a deleted link had. "
          + "`short_code` in the body is ignored.",
      },
    })
    .get("", async ({ principal, query }) => (await urls.list(principal, query)).map(urlJson), {
      query: UrlListQuery, response: { 200: t.Array(Url), 400: ErrorBody, 403: ErrorBody },
      detail: { ...detail, summary: "List links by id" },
    })
    .get("/:id", async ({ principal, params }) => urlJson(await urls.get(principal, parsePathId(params.id, "url"))), {
      params: pathId, response: { 200: Url, 403: ErrorBody, 404: ErrorBody }, detail: { ...detail, summary: "Get a link" },
    })
    .put("/:id", async ({ principal, params, body }) => urlJson(await urls.update(principal, parsePathId(params.id, "url"), body)), {
      params: pathId, body: UpdateUrlBody, response: { 200: Url, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      detail: { ...detail, summary: "Change title, is_active, original_url, expires_at, max_clicks and/or forward_query (null clears expires_at, max_clicks)" },
    })
    .delete("/:id", async ({ principal, params, set }) => {
      await urls.remove(principal, parsePathId(params.id, "url"));
      set.status = 204;
    }, {
      params: pathId, response: { 204: NoContent, 403: ErrorBody, 404: ErrorBody },
      detail: { ...detail, summary: "Delete a link; its code is retired, never reused" },
    });
}
