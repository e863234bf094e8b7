/**
 * Elysia decodes a query value that is not valid percent-encoded UTF-8 (`%FF`, `%E2%82`, a lone
 * `%`) by keeping its raw text, so `q=%FF` would search for the three characters "%FF" that the
 * client never meant. A route that searches by text calls this first: such a query is a 400.
 */
import { badRequest } from "./errors.ts";

export function requireUtf8Query(request: Request): void {
  const search = new URL(request.url).search.slice(1);
  for (const part of search.split("&")) {
    try {
      decodeURIComponent(part.replaceAll("+", " "));
    } catch {
      throw badRequest("the query string is not valid percent-encoded UTF-8");
    }
  }
}
