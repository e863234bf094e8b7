/**
 * Every SQL statement about links. Each write is one prepared statement that records its event
 * too (statements.ts): one round trip and one implicit transaction per request.
 */
import { and, asc, eq, gt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { urls, type UrlRow } from "../db/schema.ts";
import { isForeignKeyViolation } from "../db/errors.ts";
import { prepared, rowMapper } from "../db/prepared.ts";
import type { Page } from "../http/params.ts";
import { generateShortCode } from "./short-code.ts";
import { DELETE_URL_SQL, FIND_URL_SQL, INSERT_URL_SQL, UPDATE_URL_SQL } from "./statements.ts";

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

const toUrl = rowMapper(urls);
const firstUrl = (rows: Record<string, unknown>[]): UrlRow | undefined => (rows[0] ? toUrl(rows[0]) : undefined);

export function createUrlsRepo(db: Db, opts: { newCode?: () => string } = {}) {
  const newCode = opts.newCode ?? generateShortCode;

  return {
    /**
     * The new link with its `created` event, or "no-user" when the owner does not exist. A code
     * that is live or retired writes nothing and another is drawn. A delete retiring this very
     * code in a concurrent, uncommitted transaction is not seen; at 1 in 62^6 per pair of racing
     * requests that is accepted.
     */
    async insert(input: NewUrl): Promise<UrlRow | "no-user"> {
      for (let attempt = 0; attempt < CODE_ATTEMPTS; attempt++) {
        try {
          const row = firstUrl(await prepared(db, INSERT_URL_SQL, [newCode(), input.userId, input.originalUrl, input.title]));
          if (row) return row;
        } catch (err) {
          if (isForeignKeyViolation(err)) return "no-user";
          throw err;
        }
      }
      throw new Error(`no free short code after ${CODE_ATTEMPTS} attempts`);
    },

    async findById(id: number): Promise<UrlRow | undefined> {
      return firstUrl(await prepared(db, FIND_URL_SQL, [id]));
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
     * value changed (exact under concurrency: the statement locks the row to read it first).
     */
    async update(id: number, patch: UrlPatch): Promise<UrlRow | undefined> {
      const sent = (value: unknown) => value !== undefined;
      return firstUrl(await prepared(db, UPDATE_URL_SQL, [
        id,
        sent(patch.title), patch.title ?? null,
        sent(patch.isActive), patch.isActive ?? null,
        sent(patch.originalUrl), patch.originalUrl ?? null,
      ]));
    },

    /** Hard delete (events go by cascade); the code moves to retired_codes in the same statement. */
    async delete(id: number): Promise<UrlRow | undefined> {
      return firstUrl(await prepared(db, DELETE_URL_SQL, [id]));
    },
  };
}

export type UrlsRepo = ReturnType<typeof createUrlsRepo>;
