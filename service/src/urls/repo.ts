/**
 * Every SQL statement about links. Each write is one prepared statement that records its event
 * too (statements.ts): one round trip and one implicit transaction per request.
 */
import { and, asc, eq, gt } from "drizzle-orm";
import type { Db, Sql } from "../db/client.ts";
import { urls, type UrlRow } from "../db/schema.ts";
import { isForeignKeyViolation } from "../db/errors.ts";
import { arrayLiteral, clientOf, prepared, rowMapper, type RawRow } from "../db/prepared.ts";
import type { Page } from "../http/params.ts";
import { generateShortCode } from "./short-code.ts";
import { CODE_RETIRED_SQL, DELETE_URL_SQL, FIND_URL_SQL, INSERT_URLS_SQL, INSERT_URL_SQL, UPDATE_URL_SQL } from "./statements.ts";

// 62^6 codes: even with millions of links a fresh draw collides rarely; five in a row means
// something else is wrong, and the request fails instead of looping.
const CODE_ATTEMPTS = 5;

/** The link options a create may set (urls/options.ts); absent: none. */
export interface NewUrlOptions {
  expiresAt?: Date | null;
  maxClicks?: number | null;
  forwardQuery?: boolean;
}

export interface NewUrl extends NewUrlOptions {
  userId: number;
  originalUrl: string;
  title: string | null;
}

export interface UrlPatch {
  title?: string | null;
  isActive?: boolean;
  originalUrl?: string;
  /** null clears it. */
  expiresAt?: Date | null;
  /** null clears it. */
  maxClicks?: number | null;
  forwardQuery?: boolean;
}

/** What creating a link with a chosen code came to. */
export type AliasOutcome = UrlRow | "no-user" | "taken" | "retired";

export interface UrlFilter {
  userId?: number;
  isActive?: boolean;
}

/** What one create in a batch came to: its link, "no-user", or its own error. */
export type InsertOutcome = UrlRow | "no-user" | Error;

const toUrl = rowMapper(urls);
const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
const firstUrl = (rows: Record<string, unknown>[]): UrlRow | undefined => (rows[0] ? toUrl(rows[0]) : undefined);
/** INSERT_URL_SQL's row when it wrote the link; undefined when the code was live or retired. */
const written = (row: RawRow | undefined): RawRow | undefined => (row?.id === null || row?.id === undefined ? undefined : row);
const isoOrNull = (date: Date | null | undefined) => (date ? date.toISOString() : null);

/** INSERT_URL_SQL's parameters after the code. */
const insertParams = (input: NewUrl) => [
  input.userId, input.originalUrl, input.title, isoOrNull(input.expiresAt), input.maxClicks ?? null, input.forwardQuery ?? false,
];

/** Thrown inside the alias transaction to roll it back; never leaves the repo. */
class RetiredMeanwhile extends Error {}

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
          const [row] = await prepared(db, INSERT_URL_SQL, [newCode(), ...insertParams(input)]);
          const link = written(row);
          if (link) return toUrl(link);
        } catch (err) {
          if (isForeignKeyViolation(err)) return "no-user";
          throw err;
        }
      }
      throw new Error(`no free short code after ${CODE_ATTEMPTS} attempts`);
    },

    /**
     * The new link under the code the client chose, with its `created` event; or why not. One
     * insert that tells a live code from a retired one, then, only when it wrote, a look in
     * retired_codes with a fresh snapshot, in the same transaction: a delete that retired the
     * code while the insert waited for it is seen there, and the insert is rolled back. So a
     * retired code is never handed out, however the two race. Racing creates of one alias
     * queue on its unique index: the first commits, the rest find it taken (no 23505).
     */
    async insertAlias(code: string, input: NewUrl): Promise<AliasOutcome> {
      try {
        return await clientOf(db).begin(async (tx) => {
          const conn = tx as unknown as Sql;
          const [row] = await prepared(db, INSERT_URL_SQL, [code, ...insertParams(input)], conn);
          const link = written(row);
          if (!link) return row?.code_retired === true ? "retired" : "taken";
          if ((await prepared(db, CODE_RETIRED_SQL, [code], conn)).length > 0) throw new RetiredMeanwhile();
          return toUrl(link);
        });
      } catch (err) {
        if (err instanceof RetiredMeanwhile) return "retired";
        if (isForeignKeyViolation(err)) return "no-user";
        throw err;
      }
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
          const batch = pending.map((i) => inputs[i]!);
          rows = await prepared(db, INSERT_URLS_SQL, [
            arrayLiteral(codes), arrayLiteral(batch.map((x) => x.userId)),
            arrayLiteral(batch.map((x) => x.originalUrl)), arrayLiteral(batch.map((x) => x.title)),
            arrayLiteral(batch.map((x) => isoOrNull(x.expiresAt))), arrayLiteral(batch.map((x) => x.maxClicks ?? null)),
            arrayLiteral(batch.map((x) => String(x.forwardQuery ?? false))),
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
        sent(patch.expiresAt), isoOrNull(patch.expiresAt),
        sent(patch.maxClicks), patch.maxClicks ?? null,
        sent(patch.forwardQuery), patch.forwardQuery ?? null,
      ]));
    },

    /** Hard delete (events go by cascade); the code moves to retired_codes in the same statement. */
    async delete(id: number): Promise<UrlRow | undefined> {
      return firstUrl(await prepared(db, DELETE_URL_SQL, [id]));
    },
  };
}

export type UrlsRepo = ReturnType<typeof createUrlsRepo>;
