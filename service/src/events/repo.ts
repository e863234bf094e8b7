/** Every SQL statement about events a request sends (the urls repo writes its own `created`/`updated` events). */
import { and, asc, eq, gt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { driverError, isForeignKeyViolation } from "../db/errors.ts";
import { events, type EventRow } from "../db/schema.ts";
import { prepared, rowMapper } from "../db/prepared.ts";
import type { Page } from "../http/params.ts";

export interface NewEvent {
  urlId: number;
  userId: number;
  eventType: string;
  details: Record<string, unknown>;
}

export interface EventFilter {
  urlId?: number;
  userId?: number;
  eventType?: string;
}

/**
 * $1 url id, $2 user id, $3 type, $4 details (JSON text), $5 the only link owner allowed (null:
 * any). One statement: the link's owner is read and the event written only when it may be, and
 * `url_owner` comes back either way (null: no such link).
 */
const INSERT_CHECKED_EVENT_SQL = `
with link as (
  select user_id from urls where id = $1::bigint
), ins as (
  insert into events (url_id, user_id, event_type, details)
  select $1::bigint, $2::bigint, $3::text, $4::text::jsonb from link
  where $5::bigint is null or link.user_id = $5::bigint
  returning *
)
select (select user_id from link) as url_owner, ins.* from (select 1) as one left join ins on true`;

const toEvent = rowMapper(events);

/** Which referenced row a foreign-key failure names. */
function missingOf(err: unknown): "url" | "user" {
  const constraint = (driverError(err) as { constraint_name?: string }).constraint_name ?? "";
  return constraint.includes("url_id") ? "url" : "user";
}

export function createEventsRepo(db: Db) {
  return {
    /**
     * The new event in one round trip, checked against its link: "no-url" when there is no such
     * link, `{ owner }` when it belongs to someone other than `onlyOwner` (nothing written), or
     * which referenced row the foreign keys found missing.
     */
    async insertChecked(values: NewEvent, onlyOwner: number | null): Promise<EventRow | "no-url" | { owner: number } | { missing: "url" | "user" }> {
      let rows: Record<string, unknown>[];
      try {
        rows = await prepared(db, INSERT_CHECKED_EVENT_SQL, [values.urlId, values.userId, values.eventType, JSON.stringify(values.details), onlyOwner]);
      } catch (err) {
        if (!isForeignKeyViolation(err)) throw err;
        return { missing: missingOf(err) };
      }
      const raw = rows[0];
      if (!raw || raw.url_owner === null || raw.url_owner === undefined) return "no-url";
      if (raw.id === null || raw.id === undefined) return { owner: Number(raw.url_owner) };
      return toEvent(raw);
    },

    async findById(id: number): Promise<EventRow | undefined> {
      const [row] = await db.select().from(events).where(eq(events.id, id));
      return row;
    },

    list(filter: EventFilter, page: Page): Promise<EventRow[]> {
      const where = and(
        filter.urlId === undefined ? undefined : eq(events.urlId, filter.urlId),
        filter.userId === undefined ? undefined : eq(events.userId, filter.userId),
        filter.eventType === undefined ? undefined : eq(events.eventType, filter.eventType),
        page.afterId === undefined ? undefined : gt(events.id, page.afterId),
      );
      return db.select().from(events).where(where).orderBy(asc(events.id)).limit(page.limit).offset(page.offset);
    },
  };
}

export type EventsRepo = ReturnType<typeof createEventsRepo>;
