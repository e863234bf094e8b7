/**
 * First path segments that belong to fixed routes (`/health`, `/users/:id`, `/docs/json`, …):
 * a short code equal to one would be shadowed by the route, or would take the route's paths for
 * a code. One list for the code generator (urls/short-code.ts), the CSV import, the rate
 * limiter's route kinds (limits/route-kind.ts) and the redirect fast path. It is the route
 * table's: `createApp` refuses to build when a route's first segment is missing here
 * (`requireReserved`), and reserved-segments.test.ts holds it equal to the table, so a new route
 * cannot become a short code by accident. Written out rather than computed because its users run
 * where no app exists: before routing, in `buildDeps`, in the CLI.
 */

export const RESERVED_SEGMENTS: ReadonlySet<string> = new Set([
  "docs", "live", "ready", "health", "metrics", // openApiDocs, healthRoutes
  "admin", // keysRoutes, bansRoutes
  "users", "urls", "events", // usersRoutes + importsRoutes, urlsRoutes + statsRoutes, eventsRoutes
]);

/** The fixed first segments of a route table such as Elysia's `app.routes`: every one that is not a parameter or a wildcard. */
export function fixedFirstSegments(routes: readonly { path: string }[]): Set<string> {
  const segments = new Set<string>();
  for (const { path } of routes) {
    const first = path.split("/")[1] ?? "";
    if (first !== "" && !first.startsWith(":") && !first.includes("*")) segments.add(first);
  }
  return segments;
}

/** Throws, naming them, when the route table has fixed first segments that are not reserved. */
export function requireReserved(routes: readonly { path: string }[]): void {
  const unreserved = [...fixedFirstSegments(routes)].filter((segment) => !RESERVED_SEGMENTS.has(segment));
  if (unreserved.length > 0) {
    throw new Error(`routes start with ${unreserved.map((s) => `/${s}`).join(", ")}, which redirect/reserved-segments.ts does not reserve: add them there, or they could be issued as short codes`);
  }
}
