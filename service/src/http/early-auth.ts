/**
 * @module The key is checked before a body is read. Elysia parses a body before `derive` (where
 * `authenticated` runs), so without this an anonymous POST /users/bulk made an instance buffer
 * and parse up to 10 MiB before its 401. Every route that takes a body needs a key, so a request
 * that carries one is authenticated in onRequest, before routing and parsing; the principal is
 * kept for the route's own `authenticated` to reuse.
 */
import { Elysia } from "elysia";
import { requireAdmin, type Authenticator, type Principal } from "./auth.ts";

const early = new WeakMap<Request, Principal>();

/** The principal onRequest found for this request, if it looked. */
export const earlyPrincipal = (request: Request): Principal | undefined => early.get(request);

// Methods whose bodies Elysia never parses; the public routes (probes, /docs, redirects) are all GET.
const BODILESS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Whether the client sends a body to be parsed: a length above zero, or a chunked one of unknown length. */
export function carriesBody(request: Request): boolean {
  if (BODILESS.has(request.method)) return false;
  const length = request.headers.get("content-length");
  if (length !== null) return length.trim() !== "0";
  return request.headers.has("transfer-encoding");
}

// Paths that only an admin key may use: a user key gets its 403 before its body is read, too.
const adminOnlyPath = (path: string, method: string) =>
  path.startsWith("/admin/") || (method === "POST" && path === "/users/bulk");

export const authenticateBeforeBody = (auth: Authenticator) =>
  new Elysia({ name: "authenticate-before-body" }).onRequest(async ({ request }) => {
    if (!carriesBody(request)) return;
    const principal = await auth.authenticate(request.headers.get("authorization") ?? undefined);
    const path = new URL(request.url).pathname;
    if (adminOnlyPath(path, request.method)) requireAdmin(principal);
    early.set(request, principal);
  });
