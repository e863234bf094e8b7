/** HTTP for /admin/keys (admin keys only): validate, call the service, map to JSON. */
import { Elysia, t } from "elysia";
import { adminOnly, type Authenticator } from "../http/auth.ts";
import { ErrorBody, NoContent } from "../http/openapi.ts";
import { parsePathId, pathId } from "../http/params.ts";
import { ApiKey, CreateKeyBody, CreatedKey, apiKeyJson, createdKeyJson } from "./model.ts";
import type { KeysService } from "./service.ts";

export function keysRoutes(deps: { auth: Authenticator; keys: KeysService }) {
  const { keys } = deps;
  const detail = { tags: ["keys"] };
  return new Elysia({ prefix: "/admin/keys" })
    // The service checks again for callers that bypass HTTP.
    .use(adminOnly(deps.auth))
    .post("", async ({ principal, body, set }) => {
      const { row, key } = await keys.create(principal, body);
      set.status = 201;
      // The body holds a secret: no proxy or browser may keep a copy.
      set.headers["cache-control"] = "no-store";
      return createdKeyJson(row, key);
    }, {
      body: CreateKeyBody,
      response: { 201: CreatedKey, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      detail: { ...detail, summary: "Create an API key; the plaintext key is in this response only" },
    })
    .get("", async ({ principal }) => (await keys.list(principal)).map(apiKeyJson), {
      response: { 200: t.Array(ApiKey), 401: ErrorBody, 403: ErrorBody },
      detail: { ...detail, summary: "List API keys by id, revoked ones included (never the key itself)" },
    })
    .delete("/:id", async ({ principal, params, set }) => {
      await keys.revoke(principal, parsePathId(params.id, "API key"));
      set.status = 204;
    }, {
      params: pathId,
      response: { 204: NoContent, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      detail: { ...detail, summary: "Revoke an API key (idempotent; takes effect on the next request)" },
    });
}
