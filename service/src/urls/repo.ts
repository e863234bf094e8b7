/** Every SQL statement about links. Writes record their event in the same transaction. */
import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { retiredCodes, urls, type UrlRow } from "../db/schema.ts";
import { isForeignKeyViolation } from "../db/errors.ts";
import { insertEvent, type Tx } from "../events/repo.ts";
import type { Page } from "../http/params.ts";
import { generateShortCode } from "./short-code.ts";

// 62^6 codes: even with millions of links a fresh draw collides rarely; five in a row means
// something else is wrong, and the request fails instead of looping.
const CODE_ATTEMPTS = 5;

export interface NewUrl {
  userId: number;
  originalUrl: string;
  title: string | null;
}

export interface UrlPatch {
  title?: string | null;
  isActive?: boolean;
  originalUrl?: string;
}

export interface UrlFilter {
  userId?: number;
  isActive?: boolean;
}

const PATCH_FIELDS = ["title", "isActive", "originalUrl"] as const;
const FIELD_NAMES: Record<keyof UrlPatch, string> = { title: "title", isActive: "is_active", originalUrl: "original_url" };

export function createUrlsRepo(db: Db, opts: { newCode?: () => string } = {}) {
  const newCode = opts.newCode ?? generateShortCode;

  /** Inserts with a fresh code: never a live one (unique index) nor a retired one. */
  async function insertWithFreshCode(tx: Tx, input: NewUrl): Promise<UrlRow> {
    for (let attempt = 0; attempt < CODE_ATTEMPTS; attempt++) {
      const code = newCode();
      // A delete retiring this very code in a concurrent, uncommitted transaction is not seen
      // here; at 1 in 62^6 per pair of racing requests that is accepted.
      const [retired] = await tx.select({ code: retiredCodes.code }).from(retiredCodes).where(eq(retiredCodes.code, code));
      if (retired) continue;
      const [row] = await tx.insert(urls).values({ ...input, shortCode: code }).onConflictDoNothing({ target: urls.shortCode }).returning();
      if (row) return row;
    }
    throw new Error(`no free short code after ${CODE_ATTEMPTS} attempts`);
  }

  return {
    /** The new link with its `created` event, or "no-user" when the owner does not exist. */
    async insert(input: NewUrl): Promise<UrlRow | "no-user"> {
      try {
        return await db.transaction(async (tx) => {
          const row = await insertWithFreshCode(tx, input);
          await insertEvent(tx, {
            urlId: row.id, userId: row.userId, eventType: "created",
            details: { short_code: row.shortCode, original_url: row.originalUrl },
          });
          return row;
        });
      } catch (err) {
        if (isForeignKeyViolation(err)) return "no-user";
        throw err;
      }
    },

    async findById(id: number): Promise<UrlRow | undefined> {
      const [row] = await db.select().from(urls).where(eq(urls.id, id));
      return row;
    },

    list(filter: UrlFilter, page: Page): Promise<UrlRow[]> {
      const where = and(
        filter.userId === undefined ? undefined : eq(urls.userId, filter.userId),
        filter.isActive === undefined ? undefined : eq(urls.isActive, filter.isActive),
        page.afterId === undefined ? undefined : gt(urls.id, page.afterId),
      );
      return db.select().from(urls).where(where).orderBy(asc(urls.id)).limit(page.limit).offset(page.offset);
    },

    /**
     * Applies the patch, sets updated_at, and records an `updated` event naming the fields whose
     * value changed. The row is locked first so the list of changes is exact under concurrency.
     */
    async update(id: number, patch: UrlPatch): Promise<UrlRow | undefined> {
      return db.transaction(async (tx) => {
        const [before] = await tx.select().from(urls).where(eq(urls.id, id)).for("update");
        if (!before) return undefined;
        const changed = PATCH_FIELDS.filter((f) => patch[f] !== undefined && patch[f] !== before[f]);
        const [row] = await tx.update(urls).set({ ...patch, updatedAt: sql`now()` }).where(eq(urls.id, id)).returning();
        if (!row) return undefined;
        await insertEvent(tx, {
          urlId: row.id, userId: row.userId, eventType: "updated",
          details: { short_code: row.shortCode, original_url: row.originalUrl, changed: changed.map((f) => FIELD_NAMES[f]) },
        });
        return row;
      });
    },

    /** Hard delete (events go by cascade); the code moves to retired_codes in the same transaction. */
    async delete(id: number): Promise<UrlRow | undefined> {
      return db.transaction(async (tx) => {
        const [row] = await tx.delete(urls).where(eq(urls.id, id)).returning();
        if (row) await tx.insert(retiredCodes).values({ code: row.shortCode }).onConflictDoNothing();
        return row;
      });
    },
  };
}

export type UrlsRepo = ReturnType<typeof createUrlsRepo>;
