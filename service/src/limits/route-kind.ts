/**
 * Which budget a request spends, from method and path alone: the hook runs before routing, so
 * it cannot ask Elysia which route will answer. Keep this in step with the app's route list.
 */
export type RouteKind = "redirect" | "read" | "write" | "exempt";

// Probes and docs must answer even to a banned or throttled client (Caddy, Prometheus, people).
const EXEMPT = new Set(["health", "live", "ready", "metrics", "docs"]);
// First path segments that belong to the API; any other single segment is a short code.
const API_ROOTS = new Set(["users", "urls", "events", "admin", "logs", "stats"]);
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function routeKind(method: string, path: string): RouteKind {
  const segments = path.split("/").filter(Boolean);
  const first = segments[0];
  if (first !== undefined && EXEMPT.has(first)) return "exempt";
  const safe = SAFE_METHODS.has(method.toUpperCase());
  if (first !== undefined && segments.length === 1 && !API_ROOTS.has(first) && safe) return "redirect";
  return safe ? "read" : "write";
}
