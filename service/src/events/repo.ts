/** Every SQL statement about events, including the one the urls repo runs inside its transactions. */
import { and, asc, eq, gt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { driverError, isForeignKeyViolation } from "../db/errors.ts";
import { events, type EventRow } from "../db/schema.ts";
import type { Page } from "../http/params.ts";

/** A drizzle transaction, so an event can be written in the same transaction as its link. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type Executor = Db | Tx;

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

export async function insertEvent(ex: Executor, values: NewEvent): Promise<EventRow> {
  const [row] = await ex.insert(events).values(values).returning();
  if (!row) throw new Error("insert into events returned no row");
  return row;
}

export function createEventsRepo(db: Db) {
  return {
    /** The new event, or which referenced row is missing (the foreign keys decide, so no race). */
    async insert(values: NewEvent): Promise<EventRow | { missing: "url" | "user" }> {
      try {
        return await insertEvent(db, values);
      } catch (err) {
        if (!isForeignKeyViolation(err)) throw err;
        const constraint = (driverError(err) as { constraint_name?: string }).constraint_name ?? "";
        return { missing: constraint.includes("url_id") ? "url" : "user" };
      }
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
