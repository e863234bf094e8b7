/** Path ids and list paging, the same for every resource. */
import { t } from "elysia";
import { notFound } from "./errors.ts";

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

/** A JSON integer ≥ 1 in a body. Not t.Integer: Elysia's t.Integer also takes the string "12". */
export const jsonId = (description: string) => t.Number({ multipleOf: 1, minimum: 1, description });

export const pathId = t.Object({ id: t.String({ description: "positive integer id" }) });

export const pagingQuery = {
  page: t.Optional(t.Integer({ description: "1-based page; values below 1 mean 1", default: undefined })),
  per_page: t.Optional(t.Integer({ description: "rows per page, clamped to 1..100 (default 20)" })),
};

export interface Page {
  limit: number;
  offset: number;
}

export const DEFAULT_PER_PAGE = 20;
export const MAX_PER_PAGE = 100;

/** Clamps instead of rejecting, as the contract asks; non-integers were already refused by the schema. */
export function toPage(query: { page?: number; per_page?: number }): Page {
  const perPage = Math.min(MAX_PER_PAGE, Math.max(1, query.per_page ?? DEFAULT_PER_PAGE));
  const page = Math.max(1, query.page ?? 1);
  // Past this the offset would overflow what PostgreSQL accepts; such a page is simply empty.
  const offset = Math.min((page - 1) * perPage, Number.MAX_SAFE_INTEGER);
  return { limit: perPage, offset };
}
