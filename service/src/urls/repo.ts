/**
 * Every SQL statement about links. Each write is one prepared statement that records its event
 * too (statements.ts): one round trip and one implicit transaction per request.
 */
import { and, asc, eq, gt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { urls, type UrlRow } from "../db/schema.ts";
import { isForeignKeyViolation } from "../db/errors.ts";
import { arrayLiteral, prepared, rowMapper } from "../db/prepared.ts";
import type { Page } from "../http/params.ts";
import { generateShortCode } from "./short-code.ts";
import { DELETE_URL_SQL, FIND_URL_SQL, INSERT_URLS_SQL, INSERT_URL_SQL, UPDATE_URL_SQL } from "./statements.ts";

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

/** What one create in a batch came to: its link, "no-user", or its own error. */
export type InsertOutcome = UrlRow | "no-user" | Error;

const toUrl = rowMapper(urls);
const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
const firstUrl = (rows: Record<string, unknown>[]): UrlRow | undefined => (rows[0] ? toUrl(rows[0]) : undefined);

/** `count` codes, no two alike: two requests of one statement must not take each other's code. */
function distinctCodes(count: number, newCode: () => string): string[] {
  const codes = new Set<string>();
  // Bounded: a generator that keeps repeating itself (a test's) ends in a collision, not a hang.
  for (let draws = 0; codes.size < count && draws < count * 10; draws++) codes.add(newCode());
  if (codes.size < count) throw new Error(`could not draw ${count} distinct short codes`);
  return [...codes];
}

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

    /**
     * Many creates in one statement (one commit), each with the outcome `insert` would give it.
     * A missing owner leaves out only its own requests; a live or retired code is drawn again
     * in a next statement for the requests that drew one. Should the statement itself fail,
     * each request runs alone, so a failure is only ever its own request's.
     */
    async insertMany(inputs: readonly NewUrl[]): Promise<InsertOutcome[]> {
      if (inputs.length === 1) return [await this.insert(inputs[0]!).catch(asError)];
      const outcomes: (InsertOutcome | undefined)[] = inputs.map(() => undefined);
      let pending = inputs.map((_, i) => i);
      for (let attempt = 0; attempt < CODE_ATTEMPTS && pending.length > 0; attempt++) {
        const codes = distinctCodes(pending.length, newCode);
        let rows: Record<string, unknown>[];
        try {
          rows = await prepared(db, INSERT_URLS_SQL, [
            arrayLiteral(codes), arrayLiteral(pending.map((i) => inputs[i]!.userId)),
            arrayLiteral(pending.map((i) => inputs[i]!.originalUrl)), arrayLiteral(pending.map((i) => inputs[i]!.title)),
          ]);
        } catch {
          await Promise.all(pending.map(async (i) => {
            outcomes[i] = await this.insert(inputs[i]!).catch(asError);
          }));
          return outcomes as InsertOutcome[];
        }
        const retry: number[] = [];
        rows.forEach((raw, k) => {
          const i = pending[k]!;
          if (raw.owner_found !== true) outcomes[i] = "no-user";
          else if (raw.id === null || raw.id === undefined) retry.push(i);
          else outcomes[i] = toUrl(raw);
        });
        pending = retry;
      }
      for (const i of pending) outcomes[i] = new Error(`no free short code after ${CODE_ATTEMPTS} attempts`);
      return outcomes as InsertOutcome[];
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
