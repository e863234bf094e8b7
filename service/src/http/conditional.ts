/**
 * Validators for conditional GETs (RFC 9110 §8.8.3, §13.1.2): a strong ETag made from what a
 * representation's bytes depend on, and the If-None-Match test that turns a request into a 304.
 */
import { createHash } from "node:crypto";

/**
 * A strong entity tag: a digest of every input that decides the bytes, so equal tags mean equal
 * bytes, on every instance and across restarts, without keeping anything.
 */
export function strongEtag(...parts: readonly string[]): string {
  const hash = createHash("sha256");
  // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
  for (const part of parts) hash.update(`${part.length}:${part}`);
  return `"${hash.digest("base64url").slice(0, 27)}"`;
}

/** Whether If-None-Match names `etag`: by weak comparison, as the RFC asks for this header; `*` names any. */
export function ifNoneMatchHits(header: string | null | undefined, etag: string): boolean {
  if (!header) return false;
  const opaque = etag.replace(/^W\//, "");
  return header.split(",").some((raw) => {
    const tag = raw.trim();
    return tag === "*" || tag.replace(/^W\//, "") === opaque;
  });
}
