/**
 * @module Who may see and act on the console. A request is local when its Host is a loopback
 * name and no proxy forwarded it (no X-Forwarded-For: Caddy always sets one). Locally, viewing
 * needs nothing, as the old status page did; acting needs a session. Exposed (CONSOLE_AUTH=key,
 * behind Caddy), everything but the sign-in needs a session. A session comes from an admin API
 * key, checked by asking an instance (GET /admin/keys), and lives in an HttpOnly, SameSite=Strict
 * cookie; only its random id leaves the server, never the key.
 */
import { randomBytes } from "node:crypto";
import { hostOf, isLoopbackHost } from "../status/loopback.ts";
import type { KeyCheck } from "./service-api.ts";

export type ConsoleAuthMode = "loopback" | "key";

export interface ConsoleAuthOptions {
  mode: ConsoleAuthMode;
  /** Whether `key` is an admin API key, by asking the service. */
  checkAdminKey: (key: string) => Promise<KeyCheck>;
  /** How long a session lasts (ms, default 12 h). */
  sessionTtlMs?: number;
  now?: () => number;
}

export const SESSION_COOKIE = "linkfort_console";
const SESSIONS_MAX = 100;
/** Failed sign-ins allowed per minute, all callers together: a key cannot be guessed through this page. */
const FAILURES_PER_MINUTE = 10;

export type ConsoleAuth = ReturnType<typeof createConsoleAuth>;

export function isLocal(req: Request): boolean {
  return isLoopbackHost(hostOf(req.headers.get("host") ?? "")) && !req.headers.has("x-forwarded-for");
}

function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}

export function createConsoleAuth(opts: ConsoleAuthOptions) {
  const now = opts.now ?? Date.now;
  const ttl = opts.sessionTtlMs ?? 12 * 3_600_000;
  // id → expiry (Unix ms) and the admin key it was opened with (the console's calls to the
  // service, e.g. a load test's setup, use it); oldest first. Memory only, never sent back.
  const sessions = new Map<string, { expires: number; key: string }>();
  let failures: number[] = [];

  const sessionOf = (req: Request) => {
    const id = cookieValue(req, SESSION_COOKIE);
    const session = id === undefined ? undefined : sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expires > now()) return session;
    sessions.delete(id!);
    return undefined;
  };
  const hasSession = (req: Request): boolean => sessionOf(req) !== undefined;

  return {
    mode: opts.mode,
    hasSession,
    /** May this request see the console's data? */
    maySee: (req: Request) => (isLocal(req) ? true : opts.mode === "key" && hasSession(req)),
    /** May it act (restart)? Always a session. */
    mayAct: (req: Request) => (isLocal(req) || opts.mode === "key") && hasSession(req),
    /** The admin key behind this request's session. */
    keyOf: (req: Request): string | undefined => sessionOf(req)?.key,
    /** Checks the key and returns the Set-Cookie value of a new session, or why not. */
    async signIn(req: Request, key: string): Promise<{ ok: true; cookie: string } | { ok: false; status: 401 | 429 | 503; message: string }> {
      const t = now();
      failures = failures.filter((at) => at > t - 60_000);
      if (failures.length >= FAILURES_PER_MINUTE) return { ok: false, status: 429, message: "too many failed sign-ins; wait a minute" };
      const check = await opts.checkAdminKey(key);
      if (check === "unavailable") return { ok: false, status: 503, message: "no instance answered to check the key; try again when one is ready" };
      if (check === "refused") {
        failures.push(t);
        return { ok: false, status: 401, message: "not an admin API key" };
      }
      const id = randomBytes(32).toString("hex");
      sessions.set(id, { expires: t + ttl, key });
      if (sessions.size > SESSIONS_MAX) sessions.delete(sessions.keys().next().value!);
      // Secure when the operator's browser reached Caddy over https; a plain loopback tunnel has no TLS.
      const secure = req.headers.get("x-forwarded-proto") === "https" ? "; Secure" : "";
      return { ok: true, cookie: `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(ttl / 1000)}${secure}` };
    },
    signOut(req: Request): string {
      const id = cookieValue(req, SESSION_COOKIE);
      if (id) sessions.delete(id);
      return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
    },
  };
}
