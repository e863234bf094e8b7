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
      body: CreateUrlBody, response: { 201: Url, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      detail: { ...detail, summary: "Shorten a URL (the code is generated)" },
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
      detail: { ...detail, summary: "Change title, is_active and/or original_url" },
    })
    .delete("/:id", async ({ principal, params, set }) => {
      await urls.remove(principal, parsePathId(params.id, "url"));
      set.status = 204;
    }, {
      params: pathId, response: { 204: NoContent, 403: ErrorBody, 404: ErrorBody },
      detail: { ...detail, summary: "Delete a link; its code is retired, never reused" },
    });
}
