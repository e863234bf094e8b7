/**
 * Who is calling. Every protected route module does `.use(authenticated(auth))` and receives
 * `principal`; the service decides what that principal may do with `requireAdmin` /
 * `requireOwner`. In `LINKFORT_AUTH=open` mode the authenticator answers "admin" for everyone.
 */
import { Elysia } from "elysia";
import { forbidden } from "./errors.ts";
import { earlyPrincipal } from "./early-auth.ts";

export type Principal =
  | { role: "admin"; keyId: number | null }
  | { role: "user"; keyId: number; userId: number };

export interface Authenticator {
  /** Resolves the Authorization header to a principal; throws a 401 ApiError when it cannot. */
  authenticate(authorization: string | undefined): Promise<Principal>;
}

export const OPEN_PRINCIPAL: Principal = { role: "admin", keyId: null };

export const openAuthenticator: Authenticator = { authenticate: async () => OPEN_PRINCIPAL };

/**
 * Runs before body validation, so an anonymous caller learns nothing about the schema. A request
 * with a body was already authenticated before it was read (early-auth.ts); that answer is reused.
 */
export const authenticated = (auth: Authenticator) =>
  new Elysia().derive({ as: "scoped" }, async ({ headers, request }) => ({
    principal: earlyPrincipal(request) ?? await auth.authenticate(headers["authorization"]),
  }));

/**
 * For /admin/* route groups: authenticates and refuses non-admin keys before body validation,
 * so a user key gets its 403 without learning the schema, as an anonymous caller gets its 401.
 */
export const adminOnly = (auth: Authenticator) =>
  new Elysia().derive({ as: "scoped" }, async ({ headers, request }) => {
    const principal = earlyPrincipal(request) ?? await auth.authenticate(headers["authorization"]);
    requireAdmin(principal);
    return { principal };
  });

export function requireAdmin(principal: Principal): void {
  if (principal.role !== "admin") throw forbidden("this needs an admin key");
}

/** Admins may touch anything; a user key only what belongs to its own user. */
export function requireOwner(principal: Principal, ownerId: number): void {
  if (principal.role === "user" && principal.userId !== ownerId) {
    throw forbidden("this key may only act on its own user's records");
  }
}

/** The user id a list must be limited to, or undefined for an admin. */
export const ownerScope = (principal: Principal): number | undefined =>
  principal.role === "user" ? principal.userId : undefined;
