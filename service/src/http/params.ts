/** Path ids and list paging, the same for every resource. */
import { t } from "elysia";
import { badRequest, notFound } from "./errors.ts";

/** Largest value of a PostgreSQL `integer`; a larger id cannot exist and must not reach SQL. */
export const MAX_DB_ID = 2_147_483_647;

export const isDbId = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_DB_ID;

/** `/users/abc`, `/urls/1.5`, 0 and negatives are 404 by contract, like an id that does not exist. */
export function parsePathId(raw: string, what: string): number {
  if (/^[1-9]\d{0,9}$/.test(raw)) {
    const id = Number(raw);
    if (id <= MAX_DB_ID) return id;
  }
  throw notFound(`${what} ${raw} not found`);
}

/** Largest id of a 64-bit column (events) that a JSON number carries exactly: 2^53 - 1. */
export const MAX_BIG_DB_ID = Number.MAX_SAFE_INTEGER;

/** `parsePathId` for 64-bit ids: the same 404s, up to MAX_BIG_DB_ID. */
export function parseBigPathId(raw: string, what: string): number {
  if (/^[1-9]\d{0,15}$/.test(raw)) {
    const id = Number(raw);
    if (id <= MAX_BIG_DB_ID) return id;
  }
  throw notFound(`${what} ${raw} not found`);
}

/** A JSON integer ≥ 1 in a body. Not t.Integer: Elysia's t.Integer also takes the string "12". */
export const jsonId = (description: string) => t.Number({ multipleOf: 1, minimum: 1, description });

export const pathId = t.Object({ id: t.String({ description: "positive integer id" }) });

export const pagingQuery = {
  page: t.Optional(t.Integer({ description: "1-based page; values below 1 mean 1. A page may start at most 10000 rows deep (400 beyond): read further with after_id", default: undefined })),
  per_page: t.Optional(t.Integer({ description: "rows per page, clamped to 1..100 (default 20)" })),
  after_id: t.Optional(t.Integer({ description: "only rows whose id is greater (keyset paging: pass the last id of the previous page); as fast at any depth" })),
};

export interface Page {
  limit: number;
  offset: number;
  /** Only rows with a greater id (keyset paging); undefined for none. */
  afterId?: number;
}

/**
 * The deepest row a page may start at. PostgreSQL reaches an OFFSET by reading every row before
 * it (about 75 ms per million users measured; events with a filter may read many more), so a
 * deep page held a pool connection until the statement timeout. `after_id` reads from an index.
 */
export const MAX_PAGE_OFFSET = 10_000;

export const DEFAULT_PER_PAGE = 20;
export const MAX_PER_PAGE = 100;

/**
 * Clamps page and per_page instead of rejecting, as the contract asks (non-integers were already
 * refused by the schema); a page that starts deeper than MAX_PAGE_OFFSET is a 400 naming after_id.
 */
export function toPage(query: { page?: number; per_page?: number; after_id?: number }, maxId = MAX_DB_ID): Page {
  const perPage = Math.min(MAX_PER_PAGE, Math.max(1, query.per_page ?? DEFAULT_PER_PAGE));
  const page = Math.max(1, query.page ?? 1);
  const offset = (page - 1) * perPage;
  if (offset > MAX_PAGE_OFFSET) {
    throw badRequest(`page ${page} of ${perPage} rows starts ${offset} rows deep; a page may start at most ${MAX_PAGE_OFFSET} rows deep: `
      + "read further with after_id=<the last id you have>", { max_offset: MAX_PAGE_OFFSET });
  }
  // Ids above what the id column holds (`maxId`: MAX_DB_ID, or MAX_BIG_DB_ID for events) cannot
  // exist: such an after_id simply finds nothing, and never reaches SQL as an out-of-range value.
  const afterId = query.after_id === undefined ? undefined : Math.min(Math.max(0, query.after_id), maxId);
  return { limit: perPage, offset, afterId };
}
