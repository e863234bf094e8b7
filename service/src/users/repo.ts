/** Every SQL statement about users. */
import { and, asc, eq, gt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { retiredCodes, urls, users, type UserRow } from "../db/schema.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { prepared, rowMapper } from "../db/prepared.ts";
import type { Page } from "../http/params.ts";

export type UserConflict = { conflict: "username" | "email" };

/** $1 username, $2 email, $3 created_at (null: now). No row back: a unique value is taken. */
const INSERT_USER_SQL = `
insert into users (username, email, created_at) values ($1::text, $2::text, coalesce($3::text::timestamp, now()))
on conflict do nothing
returning *`;

const toUser = rowMapper(users);

export function createUsersRepo(db: Db) {
  /** Which unique field an existing row already holds, for a precise 409 message. */
  async function conflictOf(username: string | undefined, email: string | undefined, exceptId?: number): Promise<UserConflict | undefined> {
    const clauses = [username !== undefined ? eq(users.username, username) : undefined, email !== undefined ? eq(users.email, email) : undefined];
    const rows = await db.select({ id: users.id, username: users.username }).from(users).where(or(...clauses)).limit(3);
    const other = rows.find((r) => r.id !== exceptId);
    if (!other) return undefined;
    return { conflict: other.username === username ? "username" : "email" };
  }

  return {
    async insert(input: { username: string; email: string; createdAt?: Date }): Promise<UserRow | UserConflict> {
      // One round trip when the name and email are free; only a conflict asks which one it was.
      const createdAt = input.createdAt ? (users.createdAt.mapToDriverValue(input.createdAt) as string) : null;
      const [raw] = await prepared(db, INSERT_USER_SQL, [input.username, input.email, createdAt]);
      return raw ? toUser(raw) : (await conflictOf(input.username, input.email)) ?? { conflict: "username" };
    },

    async findById(id: number): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(eq(users.id, id));
      return row;
    },

    list(page: Page, onlyId?: number): Promise<UserRow[]> {
      const where = and(
        onlyId === undefined ? undefined : eq(users.id, onlyId),
        page.afterId === undefined ? undefined : gt(users.id, page.afterId),
      );
      return db.select().from(users).where(where).orderBy(asc(users.id)).limit(page.limit).offset(page.offset);
    },

    async update(id: number, patch: { username?: string; email?: string }): Promise<UserRow | UserConflict | undefined> {
      if (patch.username === undefined && patch.email === undefined) return this.findById(id);
      const clash = await conflictOf(patch.username, patch.email, id);
      if (clash) return clash;
      try {
        const [row] = await db.update(users).set(patch).where(eq(users.id, id)).returning();
        return row;
      } catch (err) {
        // Lost a race with a concurrent write of the same value.
        if (isUniqueViolation(err)) return { conflict: patch.username !== undefined ? "username" : "email" };
        throw err;
      }
    },

    /**
     * Deletes the user; links and events go by cascade. The links' codes are retired in the same
     * transaction (a cascade would skip that), so they are never issued again. Returns those
     * codes, for cache invalidation, or undefined when there was no such user.
     */
    async delete(id: number): Promise<string[] | undefined> {
      return db.transaction(async (tx) => {
        const retired = await tx.insert(retiredCodes)
          .select(tx.select({ code: urls.shortCode, retiredAt: sql`now()`.as("retired_at") }).from(urls).where(eq(urls.userId, id)))
          .onConflictDoNothing()
          .returning({ code: retiredCodes.code });
        const rows = await tx.delete(users).where(eq(users.id, id)).returning({ id: users.id });
        return rows.length > 0 ? retired.map((r) => r.code) : undefined;
      });
    },
  };
}

export type UsersRepo = ReturnType<typeof createUsersRepo>;
