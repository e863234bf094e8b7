/** HTTP for /events: validate, call the service, map to JSON. */
import { Elysia, t } from "elysia";
import { authenticated, type Authenticator } from "../http/auth.ts";
import { ErrorBody } from "../http/openapi.ts";
import { parseBigPathId, pathId } from "../http/params.ts";
import { CreateEventBody, Event, EventListQuery, eventJson } from "./model.ts";
import type { EventsService } from "./service.ts";

export function eventsRoutes(deps: { auth: Authenticator; events: EventsService }) {
  const { events } = deps;
  const detail = { tags: ["events"] };
  return new Elysia({ prefix: "/events" })
    .use(authenticated(deps.auth))
    .post("", async ({ principal, body, set }) => {
      set.status = 201;
      return eventJson(await events.create(principal, body));
    }, {
      body: CreateEventBody, response: { 201: Event, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      detail: { ...detail, summary: "Record an event about a link" },
    })
    .get("", async ({ principal, query }) => (await events.list(principal, query)).map(eventJson), {
      query: EventListQuery, response: { 200: t.Array(Event), 400: ErrorBody, 403: ErrorBody },
      detail: { ...detail, summary: "List events by id; filters combine with AND" },
    })
    .get("/:id", async ({ principal, params }) => eventJson(await events.get(principal, parseBigPathId(params.id, "event"))), {
      params: pathId, response: { 200: Event, 403: ErrorBody, 404: ErrorBody }, detail: { ...detail, summary: "Get an event" },
    });
}
