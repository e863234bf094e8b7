/**
 * One auth suite shared by every protected route. It reads the routes from the built app itself, so
 * a route someone adds tomorrow is checked without anyone remembering to list it: every route
 * except the public ones must refuse a missing, non-Bearer, unknown or revoked key with a 401,
 * and admin-only routes must refuse a user-scoped key with a 403.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { show, type TestApp } from "./harness.ts";

export interface RouteRef {
  method: string;
  path: string;
}

const PUBLIC_PATHS = new Set(["/health", "/live", "/ready", "/metrics"]);

/** Public without a key (docs/API.md, API keys): redirects, health probes, metrics and the API docs. */
export function isPublicRoute({ method, path }: RouteRef): boolean {
  if (PUBLIC_PATHS.has(path) || path === "/docs" || path.startsWith("/docs/")) return true;
  // GET /:short_code: a single segment that is nothing but a parameter.
  return method === "GET" && /^\/:[^/]+$/.test(path);
}

/** Admin keys only (docs/API.md, API keys): /admin/* and /logs. */
export const isAdminRoute = ({ path }: RouteRef): boolean => /^\/(admin|logs)(\/|$)/.test(path);

/** Every routed method and path that needs a key, de-duplicated, in registration order. */
export function protectedRoutes(h: TestApp): RouteRef[] {
  const seen = new Set<string>();
  const out: RouteRef[] = [];
  for (const { method, path } of h.app.routes) {
    // An `.all()` route answers GET too; checking GET is enough to see it is guarded.
    const ref = { method: method === "ALL" ? "GET" : method, path };
    const id = `${ref.method} ${ref.path}`;
    if (isPublicRoute(ref) || seen.has(id)) continue;
    seen.add(id);
    out.push(ref);
  }
  return out;
}

/** A concrete URL for a route pattern; an existing id so the request reaches auth, not a 404 from routing. */
export const concretePath = (path: string, id: number): string =>
  path.replace(/:[^/]+/g, String(id)).replace(/\*/g, "x");

const UNAUTHORIZED = { error: "Unauthorized", message: expect.any(String) };

/**
 * Registers the suite for `h`'s app. Call at the top level of a test file, after
 * `const h = await testApp()` (routes must be known while tests are being declared).
 */
export function runAuthSuite(h: TestApp, opts: { mustInclude?: string[] } = {}): void {
  const routes = protectedRoutes(h);
  let userId = 1;
  let userKey = "";
  let revokedKey = "";
  const unknownKey = `lf_${"0".repeat(8)}${crypto.randomUUID().replaceAll("-", "")}`;

  beforeAll(async () => {
    const [user] = await h.deps.sql<{ id: number }[]>`
      insert into users (username, email) values ('auth-suite', 'auth-suite@example.com') returning id`;
    userId = user!.id;
    userKey = await h.insertKey("user", userId);
    revokedKey = await h.insertKey("admin");
    await h.deps.sql`
      update api_keys set revoked_at = now() where hash = encode(sha256(convert_to(${revokedKey}, 'UTF8')), 'hex')`;
  }, 30_000);

  describe("shared auth suite", () => {
    test("finds the protected routes in the app", () => {
      const names = routes.map((r) => `${r.method} ${r.path}`);
      for (const expected of opts.mustInclude ?? []) expect(names, names.join("\n")).toContain(expected);
    });

    for (const route of routes) {
      const name = `${route.method} ${route.path}`;
      // A body lets write routes get as far as they would for a real client; auth must still come first.
      const body = ["POST", "PUT", "PATCH"].includes(route.method) ? {} : undefined;
      const call = (key: string | null, headers?: Record<string, string>) =>
        h.request(route.method, concretePath(route.path, userId), { key, body, headers });

      describe(name, () => {
        test("without an Authorization header is 401 with a Bearer challenge", async () => {
          const res = await call(null);
          expect(res.status, show(res)).toBe(401);
          expect(res.json, show(res)).toEqual(UNAUTHORIZED);
          expect(res.json.message, show(res)).toContain("missing Authorization header");
          expect(res.headers.get("www-authenticate"), show(res)).toMatch(/^Bearer /);
          expect(res.headers.get("content-type"), show(res)).toContain("application/json");
        });

        test("with Basic credentials is 401", async () => {
          const res = await call(null, { authorization: "Basic YWRtaW46YWRtaW4=" });
          expect(res.status, show(res)).toBe(401);
          expect(res.json, show(res)).toEqual(UNAUTHORIZED);
          expect(res.json.message, show(res)).toContain("Bearer");
        });

        test("with an unknown key is 401", async () => {
          const res = await call(unknownKey);
          expect(res.status, show(res)).toBe(401);
          expect(res.json, show(res)).toEqual({ error: "Unauthorized", message: "unknown API key" });
        });

        test("with a revoked key is 401", async () => {
          const res = await call(revokedKey);
          expect(res.status, show(res)).toBe(401);
          expect(res.json, show(res)).toEqual({ error: "Unauthorized", message: "API key has been revoked" });
        });

        if (isAdminRoute(route)) {
          test("with a user-scoped key is 403", async () => {
            const res = await call(userKey);
            expect(res.status, show(res)).toBe(403);
            expect(res.json, show(res)).toEqual({ error: "Forbidden", message: expect.any(String) });
          });
        }
      });
    }
  });
}
