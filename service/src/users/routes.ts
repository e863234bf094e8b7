/** HTTP for /users: validate, call the service, map to JSON. */
import { Elysia, t } from "elysia";
import { authenticated, type Authenticator } from "../http/auth.ts";
import { ErrorBody, NoContent } from "../http/openapi.ts";
import { pagingQuery, parsePathId, pathId } from "../http/params.ts";
import { CreateUserBody, UpdateUserBody, User, userJson } from "./model.ts";
import type { UsersService } from "./service.ts";

export function usersRoutes(deps: { auth: Authenticator; users: UsersService }) {
  const { users } = deps;
  const detail = { tags: ["users"] };
  return new Elysia({ prefix: "/users" })
    .use(authenticated(deps.auth))
    .post("", async ({ principal, body, set }) => {
      set.status = 201;
      return userJson(await users.create(principal, body));
    }, { body: CreateUserBody, response: { 201: User, 400: ErrorBody, 409: ErrorBody }, detail: { ...detail, summary: "Create a user" } })
    .get("", async ({ principal, query }) => (await users.list(principal, query)).map(userJson), {
      query: t.Object(pagingQuery), response: { 200: t.Array(User), 400: ErrorBody }, detail: { ...detail, summary: "List users by id" },
    })
    .get("/:id", async ({ principal, params }) => userJson(await users.get(principal, parsePathId(params.id, "user"))), {
      params: pathId, response: { 200: User, 404: ErrorBody }, detail: { ...detail, summary: "Get a user" },
    })
    .put("/:id", async ({ principal, params, body }) => userJson(await users.update(principal, parsePathId(params.id, "user"), body)), {
      params: pathId, body: UpdateUserBody, response: { 200: User, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      detail: { ...detail, summary: "Change username and/or email" },
    })
    .delete("/:id", async ({ principal, params, set }) => {
      await users.remove(principal, parsePathId(params.id, "user"));
      set.status = 204;
    }, {
      params: pathId, response: { 204: NoContent, 404: ErrorBody },
      detail: { ...detail, summary: "Delete a user with their links and events" },
    });
}
