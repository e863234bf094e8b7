/**
 * @module The console's HTTP side, on the status server: the page and its assets, the JSON it
 * reads (/api/overview, /api/signals, /api/timeline), the live log as Server-Sent Events
 * (/api/logs/stream), sign-in, and the actions (restart one instance, rolling restart, back up
 * now, restore drill now); the links panel's reads and action are link-routes.ts's.
 * The status server has already refused cross-site writes and foreign Hosts (loopback.ts);
 * here each request is checked against the session rules of auth.ts.
 */
import type { Server } from "bun";
import type { Logger } from "../../../service/src/lib/logger.ts";
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { StatusSnapshot } from "../status/snapshot.ts";
import { CONSOLE_CSP, CONSOLE_CSS, CONSOLE_HTML, CONSOLE_SCRIPTS } from "./assets.ts";
import type { ConsoleAuth } from "./auth.ts";
import { isLogLevel, type LogBuffer, type LogFilter } from "./log-buffer.ts";
import type { Signals } from "./signals.ts";
import type { Timeline } from "./timeline.ts";
import type { LoadTests } from "./load-test.ts";
import type { ConsoleDrills } from "./drills.ts";
import type { ServiceApi } from "./service-api.ts";
import { DUMP_NAME } from "./backup-actions.ts";
import { logStream } from "./log-stream.ts";
import { createLinkActions, DEACTIVATE, LINK_GET_PATHS } from "./link-routes.ts";

export type ConsoleAction =
  | { kind: "restart"; port: number } | { kind: "rolling-restart" } | { kind: "backup" } | { kind: "restore-drill" } | { kind: "verify"; file: string };

export interface ConsoleRoutesOptions {
  logger: Logger;
  auth: ConsoleAuth;
  snapshot: () => StatusSnapshot;
  signals: Signals;
  logs: LogBuffer;
  timeline: Timeline;
  ports: number[];
  loadTests: LoadTests;
  drills: ConsoleDrills;
  /** Bans and links: read and acted on through the service with the session's key. */
  service: Pick<ServiceApi, "bans" | "liftBan" | "topLinks" | "searchLinks" | "deactivateLink">;
  /** Each listed dump's sha256 (its sidecar), for the backups panel. */
  checksums: (names: string[]) => Promise<Record<string, string | null>>;
  /** Runs an action the status server serialises (one at a time) and answers with its result. */
  act: (req: Request, server: Server<undefined>, action: ConsoleAction) => Promise<Response>;
}

const COMMON = { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" };
const json = (status: number, body: unknown, headers: Record<string, string> = {}) => Response.json(body, { status, headers: { ...COMMON, ...headers } });
const problem = (status: number, error: string, message: string) => json(status, { error, message });
const STATUS_NAMES: Record<number, string> = {
  400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable",
};
/** An answer of the service (or of its absence) passed on with its own status. */
const passOn = (r: { status: number; message: string }) => problem(r.status, STATUS_NAMES[r.status] ?? "Bad Gateway", r.message);
const asset = (body: string, type: string, extra: Record<string, string> = {}) => new Response(body, { headers: { ...COMMON, "Content-Type": type, ...extra } });

const SignIn = Type.Object({ key: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });
const VerifyBackup = Type.Object({ file: Type.String({ pattern: DUMP_NAME.source }) }, { additionalProperties: false });
const StartDrill = Type.Object({ fault: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const StartLoad = Type.Object({
  users: Type.Union([Type.Literal(50), Type.Literal(200), Type.Literal(500)]),
  seconds: Type.Union([Type.Literal(10), Type.Literal(30), Type.Literal(60)]),
}, { additionalProperties: false });

function logFilter(url: URL): LogFilter | string {
  const level = url.searchParams.get("level") || undefined;
  if (level !== undefined && !isLogLevel(level)) return "level must be debug, info, warn or error";
  const source = url.searchParams.get("source") || undefined;
  const requestId = url.searchParams.get("request_id")?.trim() || undefined;
  if (requestId !== undefined && requestId.length > 200) return "request_id is too long";
  return { level, source, requestId, hideProbes: url.searchParams.get("probes") === "hide" };
}

/** Paths this module answers, with their method. */
const GET_PATHS = new Set(["/", "/assets/console.css", ...Object.keys(CONSOLE_SCRIPTS).map((name) => `/assets/${name}`), "/api/overview", "/api/signals", "/api/timeline", "/api/logs", "/api/logs/stream", "/api/load", "/api/drills", "/api/bans", ...LINK_GET_PATHS]);
const POST_PATHS = new Set(["/api/sign-in", "/api/sign-out", "/api/rolling-restart", "/api/backups/run", "/api/backups/restore-drill", "/api/backups/verify", "/api/load/start", "/api/drills/start"]);
const RESTART = /^\/api\/instances\/(\d{1,5})\/restart$/;
const LIFT = /^\/api\/bans\/(\d{1,18})\/lift$/;

export function createConsoleRoutes(opts: ConsoleRoutesOptions) {
  const { auth } = opts;
  const links = createLinkActions(opts);

  const overview = async (req: Request) => {
    const snapshot = opts.snapshot();
    return {
      ...snapshot,
      backup_checksums: await opts.checksums(snapshot.backups.files.map((f) => f.name)),
      console: { auth: auth.mode, signed_in: auth.hasSession(req), may_act: auth.mayAct(req), load_tests: opts.loadTests.enabled },
    };
  };

  async function signIn(req: Request): Promise<Response> {
    const body: unknown = await req.json().catch(() => undefined);
    if (!Value.Check(SignIn, body)) return problem(400, "Bad Request", 'send {"key": "<an admin API key>"}');
    const result = await auth.signIn(req, body.key);
    if (!result.ok) return passOn(result);
    return json(200, { signed_in: true }, { "Set-Cookie": result.cookie });
  }

  async function liftBan(req: Request, id: number): Promise<Response> {
    const lifted = await opts.service.liftBan(auth.keyOf(req)!, id);
    if (!lifted.ok) return passOn(lifted);
    opts.logger.info("console ban lifted", { ban_id: id });
    return json(200, { ok: true, detail: `ban ${id} lifted` });
  }

  async function startDrill(req: Request): Promise<Response> {
    const body: unknown = await req.json().catch(() => undefined);
    if (!Value.Check(StartDrill, body)) return problem(400, "Bad Request", 'send {"fault": "<a fault GET /api/drills lists>"}');
    const started = opts.drills.start(body.fault, auth.keyOf(req)!);
    return started.ok ? json(202, { started: true, fault: body.fault }) : passOn(started);
  }

  async function startLoad(req: Request): Promise<Response> {
    const body: unknown = await req.json().catch(() => undefined);
    if (!Value.Check(StartLoad, body)) return problem(400, "Bad Request", 'send {"users": 50 | 200 | 500, "seconds": 10 | 30 | 60}');
    const started = opts.loadTests.start(body.users, body.seconds, auth.keyOf(req)!);
    if (!started.ok) return passOn(started);
    return json(202, { started: true, users: body.users, seconds: body.seconds });
  }

  async function get(req: Request, path: string, server: Server<undefined>): Promise<Response> {
    if (path === "/assets/console.css") return asset(CONSOLE_CSS, "text/css; charset=utf-8");
    const script = path.startsWith("/assets/") ? CONSOLE_SCRIPTS[path.slice("/assets/".length)] : undefined;
    if (script !== undefined) return asset(script, "text/javascript; charset=utf-8");
    // The page itself shows a sign-in form to whoever may not see yet; it holds no data.
    if (path === "/") return asset(CONSOLE_HTML, "text/html; charset=utf-8", { "Content-Security-Policy": CONSOLE_CSP, "Referrer-Policy": "no-referrer" });
    if (!auth.maySee(req)) return problem(401, "Unauthorized", "sign in with an admin API key");
    if (path === "/api/overview") return json(200, await overview(req));
    if (path === "/api/signals") return json(200, opts.signals.snapshot());
    if (path === "/api/timeline") return json(200, { events: opts.timeline.list() });
    if (path === "/api/load") return json(200, { enabled: opts.loadTests.enabled, run: opts.loadTests.view() });
    if (path === "/api/drills") return json(200, { enabled: opts.drills.enabled, faults: opts.drills.faults(), run: opts.drills.view() });
    if (path === "/api/bans") {
      const key = auth.keyOf(req);
      if (!key) return problem(401, "Unauthorized", "the bans are read with your admin key: sign in");
      const bans = await opts.service.bans(key);
      return bans.ok ? json(200, { bans: bans.value }) : passOn(bans);
    }
    if (LINK_GET_PATHS.includes(path)) {
      const key = auth.keyOf(req);
      if (!key) return problem(401, "Unauthorized", "links are read with your admin key: sign in");
      const answer = await links.read(key, path, new URL(req.url));
      return answer.ok ? json(200, answer.body) : passOn(answer);
    }
    const url = new URL(req.url);
    const filter = logFilter(url);
    if (typeof filter === "string") return problem(400, "Bad Request", filter);
    if (path === "/api/logs") return json(200, { lines: opts.logs.recent(filter) });
    // An event stream stays open; Bun's idle timeout would cut it (the keep-alive comments also prevent that).
    server.timeout(req, 0);
    const after = Number(req.headers.get("last-event-id") ?? url.searchParams.get("after") ?? 0);
    return new Response(logStream(opts.logs, filter, Number.isFinite(after) ? after : 0, req.signal), {
      headers: { ...COMMON, "Content-Type": "text/event-stream; charset=utf-8", "X-Accel-Buffering": "no" },
    });
  }

  /** The answer for a console path, or undefined when the path is not the console's. */
  return async function handle(req: Request, server: Server<undefined>): Promise<Response | undefined> {
    const path = new URL(req.url).pathname;
    const restart = RESTART.exec(path);
    const lift = LIFT.exec(path);
    const deactivate = DEACTIVATE.exec(path);
    const method = GET_PATHS.has(path) ? "GET" : POST_PATHS.has(path) || restart || lift || deactivate ? "POST" : undefined;
    if (!method) return undefined;
    if (req.method !== method) return json(405, { error: "Method Not Allowed", message: `${path} accepts ${method} only` }, { Allow: method });
    if (method === "GET") return get(req, path, server);
    if (path === "/api/sign-in") return signIn(req);
    if (path === "/api/sign-out") return json(200, { signed_in: false }, { "Set-Cookie": auth.signOut(req) });
    if (!auth.mayAct(req)) return problem(401, "Unauthorized", "acting needs a session: sign in with an admin API key");
    if (path === "/api/rolling-restart") return opts.act(req, server, { kind: "rolling-restart" });
    if (path === "/api/load/start") return startLoad(req);
    if (path === "/api/drills/start") return startDrill(req);
    if (lift) return liftBan(req, Number(lift[1]));
    if (deactivate) {
      const done = await links.deactivate(auth.keyOf(req)!, Number(deactivate[1]));
      return done.ok ? json(200, done.body) : passOn(done);
    }
    if (path === "/api/backups/run") return opts.act(req, server, { kind: "backup" });
    if (path === "/api/backups/restore-drill") return opts.act(req, server, { kind: "restore-drill" });
    if (path === "/api/backups/verify") {
      const body: unknown = await req.json().catch(() => undefined);
      if (!Value.Check(VerifyBackup, body)) return problem(400, "Bad Request", 'send {"file": "linkfort-YYYYMMDDTHHMMSSZ.dump"}');
      return opts.act(req, server, { kind: "verify", file: body.file });
    }
    const port = Number(restart![1]);
    if (!opts.ports.includes(port)) return problem(404, "Not Found", `no instance on port ${port}`);
    return opts.act(req, server, { kind: "restart", port });
  };
}
