/**
 * Which budget a request spends, from method and path alone: the hook runs before routing, so
 * it cannot ask Elysia which route will answer; the route table's first segments come from
 * redirect/reserved-segments.ts, which the app checks against its routes.
 */
import { RESERVED_SEGMENTS } from "../redirect/reserved-segments.ts";

export type RouteKind = "redirect" | "read" | "write" | "exempt";

// Probes and docs must answer even to a banned or throttled client (Caddy, Prometheus, people).
const EXEMPT = new Set(["health", "live", "ready", "metrics", "docs"]);
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function routeKind(method: string, path: string): RouteKind {
  const segments = path.split("/").filter(Boolean);
  const first = segments[0];
  if (first !== undefined && EXEMPT.has(first)) return "exempt";
  const safe = SAFE_METHODS.has(method.toUpperCase());
  if (first !== undefined && segments.length === 1 && !RESERVED_SEGMENTS.has(first) && safe) return "redirect";
  return safe ? "read" : "write";
}
