/** The rules for links: valid destinations, who may touch which link, and what missing means. */
import { forbidden, notFound } from "../http/errors.ts";
import { ownerScope, requireOwner, type Principal } from "../http/auth.ts";
import { isDbId, toPage } from "../http/params.ts";
import type { UrlRow } from "../db/schema.ts";
import { checkOriginalUrl, type CreateUrlInput, type UpdateUrlInput, type UrlListInput } from "./model.ts";
import { coalesce } from "../lib/coalesce.ts";
import type { InsertOutcome, NewUrl, NewUrlOptions, UrlPatch, UrlsRepo } from "./repo.ts";
import { aliasUnavailable, checkAlias, parseExpiresAt } from "./options.ts";
import { isCodeShaped } from "../redirect/model.ts";

// Measured (bench/create-batching.ts, docs/PERFORMANCE.md): PostgreSQL writes many links per
// statement far faster than one per statement from many connections, where every commit also
// queues for the NOTIFY of the urls trigger. Two statements in flight leave the rest of the pool
// to the reads; a lone create still goes out at once.
export const CREATE_BATCH_MAX = 100;
export const CREATES_IN_FLIGHT = 2;

/**
 * Told, after the commit, of the codes whose redirect changed (a new link's too: a 404 may be
 * cached for it); resolves once this instance's caches reflect the write (cache/invalidation.ts).
 */
export type CodesChanged = (shortCodes: readonly string[], change?: "created" | "changed") => Promise<void>;

/** The options of a create body, checked (400) before anything is written. */
function createOptions(input: CreateUrlInput, now: number): NewUrlOptions {
  return {
    expiresAt: input.expires_at == null ? null : parseExpiresAt(input.expires_at, now),
    maxClicks: input.max_clicks ?? null,
    forwardQuery: input.forward_query ?? false,
  };
}

export function createUrlsService(repo: UrlsRepo, settle: CodesChanged = async () => {}) {
  async function get(principal: Principal, id: number): Promise<UrlRow> {
    const row = await repo.findById(id);
    if (!row) throw notFound(`url ${id} not found`);
    requireOwner(principal, row.userId);
    return row;
  }

  // Concurrent creates share one statement and one cache fence (settle) per batch.
  const insert = coalesce<NewUrl, Exclude<InsertOutcome, Error>>({
    maxBatch: CREATE_BATCH_MAX,
    maxInFlight: CREATES_IN_FLIGHT,
    run: (inputs) => repo.insertMany(inputs),
    async after(outcomes) {
      const codes = outcomes.flatMap((o) => (o instanceof Error || o === "no-user" ? [] : [o.shortCode]));
      if (codes.length > 0) await settle(codes, "created");
    },
  });

  async function insertAlias(alias: string, newUrl: NewUrl): Promise<UrlRow | "no-user"> {
    // The schema's pattern is narrower; this holds the alias to what the redirect will look up.
    if (!isCodeShaped(alias)) throw new Error(`alias ${JSON.stringify(alias)} passed the schema but is not code-shaped`);
    const outcome = await repo.insertAlias(alias, newUrl);
    if (outcome === "taken" || outcome === "retired") throw aliasUnavailable(alias, outcome);
    if (outcome !== "no-user") await settle([outcome.shortCode], "created");
    return outcome;
  }

  return {
    get,

    /**
     * New links are always active. The code is generated, whatever the client sent as
     * `short_code`, unless it asks for one as `alias`: that one is written alone (not in a batch,
     * which would draw again), and is a 409 when live or retired.
     */
    async create(principal: Principal, input: CreateUrlInput): Promise<UrlRow> {
      checkOriginalUrl(input.original_url);
      if (input.alias !== undefined) checkAlias(input.alias);
      const newUrl: NewUrl = {
        userId: input.user_id, originalUrl: input.original_url, title: input.title ?? null, ...createOptions(input, Date.now()),
      };
      requireOwner(principal, input.user_id);
      if (!isDbId(input.user_id)) throw notFound(`user ${input.user_id} not found`);
      const row = input.alias === undefined ? await insert(newUrl) : await insertAlias(input.alias, newUrl);
      if (row === "no-user") throw notFound(`user ${input.user_id} not found`);
      return row;
    },

    /** A user key sees only its own links; naming another user is a 403, not an empty list. */
    async list(principal: Principal, query: UrlListInput): Promise<UrlRow[]> {
      const scope = ownerScope(principal);
      if (scope !== undefined && query.user_id !== undefined && query.user_id !== scope) {
        throw forbidden("this key may only list its own user's links");
      }
      const userId = scope ?? query.user_id;
      // Ids outside PostgreSQL's integer range cannot exist; they must not reach SQL either.
      if (userId !== undefined && !isDbId(userId)) return [];
      const isActive = query.is_active === undefined ? undefined : query.is_active === "true";
      return repo.list({ userId, isActive }, toPage(query));
    },

    /** Every field is checked before anything is written, so a bad field changes nothing. */
    async update(principal: Principal, id: number, input: UpdateUrlInput): Promise<UrlRow> {
      if (input.original_url !== undefined) checkOriginalUrl(input.original_url);
      const expiresAt = input.expires_at == null ? input.expires_at : parseExpiresAt(input.expires_at, Date.now());
      await get(principal, id);
      const patch: UrlPatch = {};
      // undefined = not sent (keep); null = sent as null (clear).
      if (input.title !== undefined) patch.title = input.title;
      if (input.is_active !== undefined) patch.isActive = input.is_active;
      if (input.original_url !== undefined) patch.originalUrl = input.original_url;
      if (expiresAt !== undefined) patch.expiresAt = expiresAt;
      if (input.max_clicks !== undefined) patch.maxClicks = input.max_clicks;
      if (input.forward_query !== undefined) patch.forwardQuery = input.forward_query;
      const row = await repo.update(id, patch);
      if (!row) throw notFound(`url ${id} not found`);
      await settle([row.shortCode]);
      return row;
    },

    async remove(principal: Principal, id: number): Promise<void> {
      await get(principal, id);
      const row = await repo.delete(id);
      if (!row) throw notFound(`url ${id} not found`);
      await settle([row.shortCode]);
    },
  };
}

export type UrlsService = ReturnType<typeof createUrlsService>;
