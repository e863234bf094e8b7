/**
 * Query forwarding (a link's `forward_query`, issue #18): the visitor's query string appended to
 * the stored destination. Only a link that forwards calls this; every other Location is the
 * stored URL byte for byte.
 *
 * Why a query cannot move the visitor to another host: what is appended always follows a `?`
 * that precedes it in the result (the destination's own, or one added here), and after a `?` a
 * URL parser reads only query and fragment: `@`, `//`, `\` and `:` are plain query characters
 * there. The request's fragment (a raw `#` in the request target) is not part of its query and
 * is dropped, so the destination's own fragment stays the one the browser keeps.
 */

/**
 * The longest Location a forwarded query may make (characters, all ASCII, so bytes): past it the
 * query is not forwarded and the visitor gets the stored URL as is. Far above what browsers and
 * proxies pass along (Caddy's default header limit included), so only an abusive query hits it.
 */
export const FORWARDED_LOCATION_MAX = 8192;

// What may go into a Location as is (the API's rule for original_url): printable ASCII.
const QUERY_SAFE = /^[\x21-\x7E]*$/;
const QUERY_UNSAFE = /[^\x21-\x7E]/gu;

/**
 * `location` with the query of `requestUrl` (an absolute URL, as Request.url is) merged in: before
 * the destination's `#fragment`, after its own query with `&`, or after a new `?`. An absent or
 * empty query returns `location` itself, as does a result longer than FORWARDED_LOCATION_MAX.
 */
export function withForwardedQuery(location: string, requestUrl: string): string {
  const start = requestUrl.indexOf("?");
  if (start < 0) return location;
  const hash = requestUrl.indexOf("#", start);
  const query = percentEncoded(requestUrl.slice(start + 1, hash < 0 ? undefined : hash));
  if (query === "") return location;
  const fragmentAt = location.indexOf("#");
  const head = fragmentAt < 0 ? location : location.slice(0, fragmentAt);
  const fragment = fragmentAt < 0 ? "" : location.slice(fragmentAt);
  const merged = head + joiner(head) + query + fragment;
  return merged.length <= FORWARDED_LOCATION_MAX ? merged : location;
}

/** `?` when the destination has no query, `&` after one, nothing after a bare `?` or a trailing `&`. */
function joiner(head: string): string {
  if (!head.includes("?")) return "?";
  return head.endsWith("?") || head.endsWith("&") ? "" : "&";
}

/**
 * Bun hands requests over with their URL already percent-encoded to printable ASCII; anything
 * else (a future runtime, a request built in process) is encoded as UTF-8 here, so the header
 * stays what the API lets a Location be: no space, no CR or LF, nothing past ASCII.
 */
function percentEncoded(query: string): string {
  if (QUERY_SAFE.test(query)) return query;
  return query.toWellFormed().replace(QUERY_UNSAFE, (c) => encodeURIComponent(c));
}
