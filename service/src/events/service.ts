/** The rules for events: who may see or write which, and what a missing link or user means. */
import { forbidden, notFound } from "../http/errors.ts";
import { ownerScope, requireOwner, type Principal } from "../http/auth.ts";
import { isDbId, MAX_BIG_DB_ID, toPage } from "../http/params.ts";
import type { EventRow } from "../db/schema.ts";
import { eventDetails, type CreateEventInput, type EventListInput } from "./model.ts";
import type { EventsRepo } from "./repo.ts";

/** Finds a link's owner; the urls repo provides it, so events need no SQL of their own about links. */
export type FindUrlOwner = (urlId: number) => Promise<{ userId: number } | undefined>;

// An event type longer than the column, or with a NUL, cannot be stored, so no row can match it;
// answering [] here also keeps PostgreSQL from rejecting the NUL with an error.
const storableType = (type: string) => type.length <= 64 && !type.includes("\u0000");

export function createEventsService(repo: EventsRepo, findUrlOwner: FindUrlOwner) {
  async function get(principal: Principal, id: number): Promise<EventRow> {
    const row = await repo.findById(id);
    if (!row) throw notFound(`event ${id} not found`);
    requireOwner(principal, row.userId);
    return row;
  }

  return {
    get,

    async create(principal: Principal, input: CreateEventInput): Promise<EventRow> {
      const details = eventDetails(input.details);
      requireOwner(principal, input.user_id);
      if (!isDbId(input.url_id)) throw notFound(`url ${input.url_id} not found`);
      const values = { urlId: input.url_id, userId: input.user_id, eventType: input.event_type, details };
      if (!isDbId(input.user_id)) {
        // No such user can exist; the link still decides between 404 url, 403 and 404 user.
        const url = await findUrlOwner(input.url_id);
        if (!url) throw notFound(`url ${input.url_id} not found`);
        requireOwner(principal, url.userId);
        throw notFound(`user ${input.user_id} not found`);
      }
      // One round trip: the link's owner is checked in the statement that writes the event.
      const result = await repo.insertChecked(values, ownerScope(principal) ?? null);
      if (result === "no-url") throw notFound(`url ${input.url_id} not found`);
      if ("owner" in result) {
        requireOwner(principal, result.owner);
        throw new Error("event refused for an owner the key may act on");
      }
      if ("missing" in result) {
        throw notFound(result.missing === "url" ? `url ${input.url_id} not found` : `user ${input.user_id} not found`);
      }
      return result;
    },

    /** A user key sees only its own user's events; naming another user is a 403, not an empty list. */
    async list(principal: Principal, query: EventListInput): Promise<EventRow[]> {
      const scope = ownerScope(principal);
      if (scope !== undefined && query.user_id !== undefined && query.user_id !== scope) {
        throw forbidden("this key may only list its own user's events");
      }
      const userId = scope ?? query.user_id;
      const { url_id: urlId, event_type: eventType } = query;
      // Ids outside PostgreSQL's integer range cannot exist; they must not reach SQL either.
      if (userId !== undefined && !isDbId(userId)) return [];
      if (urlId !== undefined && !isDbId(urlId)) return [];
      if (eventType !== undefined && !storableType(eventType)) return [];
      return repo.list({ urlId, userId, eventType }, toPage(query, MAX_BIG_DB_ID));
    },
  };
}

export type EventsService = ReturnType<typeof createEventsService>;
