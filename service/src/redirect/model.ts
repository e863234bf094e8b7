/**
 * What a short code resolves to, as one value the lookup returns and the caches hold, how the
 * Redis tier stores it, and which paths can be codes.
 */
import { originalUrlProblem } from "../urls/model.ts";

/** Where an answer came from; the redirect sends it as `X-Cache`. */
export type CacheSource = "lru" | "redis" | "db";

/**
 * A link's options (issue #18), absent for a link that has none: the common case stays as small
 * and as fast as before. Times are epoch milliseconds.
 */
export interface LinkOptions {
  expiresAt?: number;
  maxClicks?: number;
  forwardQuery?: boolean;
}

export type Lookup =
  | { kind: "found"; urlId: number; location: string; source: CacheSource; options?: LinkOptions }
  | { kind: "inactive"; source: CacheSource }
  | { kind: "missing"; source: CacheSource };

export type Found = Extract<Lookup, { kind: "found" }>;

/**
 * A found link whose expiry has passed, as the redirect answers it (410). Never cached: it is
 * derived from the cached value each time, so an entry filled before the expiry cannot outlive it.
 */
export interface Expired {
  kind: "expired";
  source: CacheSource;
  /** Epoch ms. */
  expiresAt: number;
}

/** What the redirect answers: the lookup's value, or the same link found expired. */
export type Outcome = Lookup | Expired;

// Shared, so an answer without a target allocates nothing.
const MISSING = { lru: { kind: "missing", source: "lru" }, redis: { kind: "missing", source: "redis" }, db: { kind: "missing", source: "db" } } as const;
const INACTIVE = { lru: { kind: "inactive", source: "lru" }, redis: { kind: "inactive", source: "redis" }, db: { kind: "inactive", source: "db" } } as const;

export const missing = (source: CacheSource): Lookup => MISSING[source];
export const inactive = (source: CacheSource): Lookup => INACTIVE[source];

/** The same answer as another tier gives it (the LRU keeps what it is filled with, marked "lru"). */
export function withSource(lookup: Lookup, source: CacheSource): Lookup {
  if (lookup.kind === "missing") return MISSING[source];
  if (lookup.kind === "inactive") return INACTIVE[source];
  return lookup.options === undefined
    ? { kind: "found", urlId: lookup.urlId, location: lookup.location, source }
    : { kind: "found", urlId: lookup.urlId, location: lookup.location, source, options: lookup.options };
}

/**
 * The 410 answer for a found link past its expiry, or undefined while it is live (or has none).
 * Checked on every answer, cached or not, never left to a TTL.
 */
export function expiredAt(found: Found, now: number): Expired | undefined {
  const expiresAt = found.options?.expiresAt;
  return expiresAt !== undefined && now >= expiresAt ? { kind: "expired", source: found.source, expiresAt } : undefined;
}

/**
 * The options of a urls row, or undefined when it has none. `expires_at` is epoch ms (repo.ts
 * selects it so: drizzle makes the shared postgres.js client return timestamps as text).
 */
export function linkOptions(row: { expires_at: number | null; max_clicks: number | string | null; forward_query: boolean }): LinkOptions | undefined {
  if (row.expires_at === null && row.max_clicks === null && !row.forward_query) return undefined;
  const options: LinkOptions = {};
  // Whole ms (rounded up: not expired before the stored microsecond), clamped to what the Redis
  // encoding carries: an expiry before 1970 is as past as 1970, a cap past 2^53 as unreachable.
  if (row.expires_at !== null) options.expiresAt = Math.max(0, Math.ceil(row.expires_at));
  if (row.max_clicks !== null) options.maxClicks = Math.min(Number(row.max_clicks), Number.MAX_SAFE_INTEGER);
  if (row.forward_query) options.forwardQuery = true;
  return options;
}

// Wider than the codes we issue (6 alphanumerics) to leave room for imported or custom ones;
// anything else cannot exist, so it is a 404 without a lookup.
export const CODE_PATTERN = "^[A-Za-z0-9_-]{1,16}$";
const CODE_SHAPE = new RegExp(CODE_PATTERN);

export const isCodeShaped = (path: string) => CODE_SHAPE.test(path);

const HEADER_SAFE = /^[\x21-\x7E]+$/;

/**
 * The Location value for a stored URL. The API only stores printable ASCII, which goes out
 * byte-for-byte; a row written around it (an old import) is percent-encoded instead of making
 * Bun refuse the header and the redirect fail with a 500.
 */
export function locationOf(url: string): string {
  if (HEADER_SAFE.test(url)) return url;
  try {
    return new URL(url).href;
  } catch {
    return encodeURI(url.toWellFormed());
  }
}

// Compact on purpose (read on every LRU miss): "m", "i", "f<urlId> <location>" for a link without
// options, "o<urlId> <expiresAt|-> <maxClicks|-> <q|-> <location>" for one with them. The code is
// in the key, so it is not stored. A plain link keeps the "f" form that every release reads. A
// link with options gets a prefix older releases do not know: they take it for a value linkfort
// did not write (a miss: counted, deleted, refilled from PostgreSQL), never for a plain link
// whose expiry or query forwarding they would silently drop.
export function encode(lookup: Lookup): string {
  if (lookup.kind === "missing") return "m";
  if (lookup.kind === "inactive") return "i";
  const options = lookup.options;
  if (options === undefined) return `f${lookup.urlId} ${lookup.location}`;
  return `o${lookup.urlId} ${options.expiresAt ?? "-"} ${options.maxClicks ?? "-"} ${options.forwardQuery ? "q" : "-"} ${lookup.location}`;
}

// Exactly what `encode` writes for a found link: a canonical positive id, one space, a
// header-safe location. Anything else in Redis was not written by linkfort.
const FOUND_VALUE = /^f([1-9][0-9]{0,15}) ([\x21-\x7E]+)$/;
const OPTIONS_VALUE = /^o([1-9][0-9]{0,15}) (-|0|[1-9][0-9]{0,15}) (-|[1-9][0-9]{0,15}) ([-q]) ([\x21-\x7E]+)$/;
/** The latest time a Date can hold (ms): an expiry past it was not written by linkfort. */
const LAST_DATE_MS = 8.64e15;

/**
 * Undefined for anything we did not write (a tombstone, a hand-set key): treat as a miss. A
 * value read from Redis is input like any other: a location must pass the API's own checks for
 * original_url (http or https, a host), so a process that can write Redis cannot send a link's
 * visitors to `javascript:` or `data:`; options must be ones linkOptions can make (a date, a
 * positive cap, and at least one of the three). Runs on a Redis read only, never on an LRU hit.
 */
export function decode(raw: string): Lookup | undefined {
  if (raw === "m") return MISSING.redis;
  if (raw === "i") return INACTIVE.redis;
  const plain = FOUND_VALUE.exec(raw);
  if (plain) return foundValue(plain[1]!, plain[2]!, undefined);
  const fields = OPTIONS_VALUE.exec(raw);
  if (!fields) return undefined;
  const [expiresAt, maxClicks, forwardQuery] = [fields[2]!, fields[3]!, fields[4]!];
  if (expiresAt === "-" && maxClicks === "-" && forwardQuery === "-") return undefined;
  const options: LinkOptions = {};
  if (expiresAt !== "-") {
    options.expiresAt = Number(expiresAt);
    if (options.expiresAt > LAST_DATE_MS) return undefined;
  }
  if (maxClicks !== "-") {
    options.maxClicks = Number(maxClicks);
    if (!Number.isSafeInteger(options.maxClicks)) return undefined;
  }
  if (forwardQuery === "q") options.forwardQuery = true;
  return foundValue(fields[1]!, fields[5]!, options);
}

function foundValue(id: string, location: string, options: LinkOptions | undefined): Lookup | undefined {
  const urlId = Number(id);
  if (!Number.isSafeInteger(urlId) || originalUrlProblem(location) !== undefined) return undefined;
  return options === undefined
    ? { kind: "found", urlId, location, source: "redis" }
    : { kind: "found", urlId, location, source: "redis", options };
}
