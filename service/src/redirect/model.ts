/** What a short code resolves to, as a value a cache can hold, and which paths can be codes. */

/** A link the redirect may follow; everything a cache needs to answer without PostgreSQL. */
export interface RedirectTarget {
  urlId: number;
  shortCode: string;
  originalUrl: string;
}

export type Resolution =
  | { kind: "found"; target: RedirectTarget }
  | { kind: "inactive" }
  | { kind: "missing" };

/** Looks a code up; a cache (LRU, Redis) wraps one of these around the PostgreSQL one. */
export type Resolve = (shortCode: string) => Promise<Resolution>;

// Wider than the codes we issue (6 alphanumerics) to leave room for imported or custom ones;
// anything else cannot exist, so it is a 404 without a lookup.
const CODE_SHAPE = /^[A-Za-z0-9_-]{1,16}$/;

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
