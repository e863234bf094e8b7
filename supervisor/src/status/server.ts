/**
 * The supervisor's own HTTP server: GET /status (JSON), GET /metrics (Prometheus), GET /table
 * (the plain status page), POST /rolling-restart, POST /memory-limit (one instance's process under
 * a lower memory limit, for the instance-memory drill), and the operator's console (GET / and /api/…,
 * console/routes.ts). Loopback only by default, see loopback.ts for why; every POST
 * also needs the control token (control-token.ts), the console's actions a session.
 */
import type { Server } from "bun";
import type { Logger } from "../../../service/src/lib/logger.ts";
import type { SupervisorMetrics } from "../metrics.ts";
import { isLocal } from "../console/auth.ts";
import type { BackupActions } from "../console/backup-actions.ts";
import { createConsoleRoutes, type ConsoleAction, type ConsoleRoutesOptions } from "../console/routes.ts";
import { tokenMatches } from "./control-token.ts";
import { isLoopbackHost, refusal } from "./loopback.ts";
import { renderStatusPage } from "./page.ts";
import type { StatusSnapshot } from "./snapshot.ts";

export interface RollingRestartResult { ok: boolean; detail: string }

export interface StatusServerOptions {
  /** STATUS_HOST (default 127.0.0.1). A non-loopback host is refused unless allowNonLoopback. */
  host: string;
  /** STATUS_PORT (default 9100; 0 picks a free port, see `port` on the result). */
  port: number;
  snapshot: () => StatusSnapshot;
  metrics: SupervisorMetrics;
  /** Every POST must carry it as `Authorization: Bearer <token>` (control-token.ts). */
  controlToken: string;
  /** Runs the rolling restart; the request waits for it. At most one runs at a time (else 409). */
  onRollingRestart: () => Promise<RollingRestartResult>;
  /** POST /memory-limit {port, mb}: a lower memory limit for one instance's current process (the instance-memory drill); absent unless DRILLS=on. */
  onMemoryLimit?: (port: number, mb: number) => RollingRestartResult;
  logger: Logger;
  /** Bind a non-loopback host anyway, e.g. behind an authenticating proxy (default false). */
  allowNonLoopback?: boolean;
  /** Seconds between reloads of the status page (default 5). */
  refreshSeconds?: number;
  /** The console; without it only the plain endpoints are served (tests of those). */
  console?: Omit<ConsoleRoutesOptions, "act" | "snapshot" | "checksums" | "logger"> & {
    /** Restarts one instance (drain, start, wait for ready), as a rolling restart does. */
    onRestartInstance: (port: number) => Promise<RollingRestartResult>;
    backups: BackupActions;
  };
}

export interface StatusServer {
  port: number;
  stop(): Promise<void>;
}

const ROUTES: Record<string, string> = { "/table": "GET", "/status": "GET", "/metrics": "GET", "/rolling-restart": "POST", "/memory-limit": "POST" };
const COMMON = { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" };
// The page is inline CSS only; nothing else may load, run, post or frame it.
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers: { ...COMMON, ...headers } });
const problem = (status: number, error: string, message: string, headers: Record<string, string> = {}) =>
  json(status, { error, message }, headers);

export function createStatusServer(opts: StatusServerOptions): StatusServer {
  const { logger } = opts;
  const loopbackOnly = !opts.allowNonLoopback;
  if (loopbackOnly && !isLoopbackHost(opts.host)) {
    throw new Error(`status server: STATUS_HOST=${opts.host} is not a loopback address; its endpoints have no authentication (allowNonLoopback to override)`);
  }
  // One action at a time, whoever asked (the CLI's rolling restart, the console's buttons).
  let running: string | undefined;

  async function act(req: Request, server: Server<undefined>, action: ConsoleAction): Promise<Response> {
    if (running) return problem(409, "Conflict", `a ${running} is already running`);
    const { what, message, run, fields } = describe(action);
    // Bun.serve drops a request that stays quiet for idleTimeout (default 10 s, oven-sh/bun#13712);
    // a restart takes longer and its caller waits for the result.
    server.timeout(req, 0);
    running = what;
    const began = Date.now();
    logger.info(`${message} requested`, fields);
    try {
      const result = await run();
      logger.info(`${message} finished`, { ...fields, ok: result.ok, detail: result.detail, duration_s: (Date.now() - began) / 1000 });
      return json(result.ok ? 200 : 500, { ok: result.ok, detail: result.detail });
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      logger.error(`${message} finished`, { ...fields, ok: false, detail, duration_s: (Date.now() - began) / 1000 });
      return json(500, { ok: false, detail });
    } finally {
      running = undefined;
    }
  }

  /** What an action is called in a 409 and in the log, and what runs it. */
  function describe(action: ConsoleAction): { what: string; message: string; run: () => Promise<RollingRestartResult>; fields: Record<string, number | string> } {
    const c = opts.console;
    if (action.kind === "restart") return { what: `restart of instance ${action.port}`, message: "console restart", run: () => c!.onRestartInstance(action.port), fields: { port: action.port } };
    if (action.kind === "backup") return { what: "backup", message: "console backup", run: () => c!.backups.backupNow(), fields: {} };
    if (action.kind === "restore-drill") return { what: "restore drill", message: "console restore drill", run: () => c!.backups.restoreDrill(), fields: {} };
    if (action.kind === "verify") return { what: "backup verification", message: "console backup verify", run: () => c!.backups.verify(action.file), fields: { file: action.file } };
    return { what: "rolling restart", message: "rolling restart", run: opts.onRollingRestart, fields: {} };
  }

  const consoleRoutes = opts.console && createConsoleRoutes({ ...opts.console, logger, checksums: (names) => opts.console!.backups.checksums(names), snapshot: opts.snapshot, act });
  // Exposed through a proxy (CONSOLE_AUTH=key): the proxy's Host is accepted, and a request that
  // came through it (not local) sees nothing without the console's session.
  const exposed = opts.console?.auth.mode === "key";

  async function route(req: Request, server: Server<undefined>): Promise<Response> {
    const path = new URL(req.url).pathname;
    const refused = refusal(req, { loopbackOnly: loopbackOnly && !exposed });
    if (refused) return problem(403, "Forbidden", refused);
    const answer = await consoleRoutes?.(req, server);
    if (answer) return answer;
    const method = ROUTES[path];
    if (!method) return problem(404, "Not Found", `no route ${path}`);
    if (req.method !== method) return problem(405, "Method Not Allowed", `${path} accepts ${method} only`, { Allow: method });
    if (exposed && !isLocal(req) && !opts.console!.auth.maySee(req)) return problem(401, "Unauthorized", "sign in to the console with an admin API key");
    if (method === "POST" && !tokenMatches(req.headers.get("authorization"), opts.controlToken)) {
      return problem(401, "Unauthorized", "POST needs the control token (Authorization: Bearer <the token file's contents>); `linkfort-supervisor rolling-restart` sends it");
    }
    if (path === "/status") return json(200, opts.snapshot());
    if (path === "/metrics") {
      return new Response(await opts.metrics.registry.metrics(), { headers: { ...COMMON, "Content-Type": opts.metrics.registry.contentType } });
    }
    if (path === "/table") {
      const page = renderStatusPage(opts.snapshot(), opts.refreshSeconds === undefined ? {} : { refreshSeconds: opts.refreshSeconds });
      return new Response(page, { headers: { ...COMMON, "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": PAGE_CSP } });
    }
    if (path === "/memory-limit") return memoryLimit(req);
    return act(req, server, { kind: "rolling-restart" });
  }

  async function memoryLimit(req: Request): Promise<Response> {
    if (!opts.onMemoryLimit) return problem(404, "Not Found", "POST /memory-limit is for drills: DRILLS=on in the supervisor's settings");
    const body = (await req.json().catch(() => null)) as { port?: unknown; mb?: unknown } | null;
    const valid = (v: unknown, max: number): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= max;
    if (!body || !valid(body.port, 65_535) || !valid(body.mb, 1_000_000)) return problem(400, "Bad Request", "the body must be {\"port\": an instance's port, \"mb\": an integer from 1 to 1000000}");
    const result = opts.onMemoryLimit(body.port, body.mb);
    logger.info("memory limit lowered", { port: body.port, mb: body.mb, ok: result.ok, detail: result.detail });
    return json(result.ok ? 200 : 404, result);
  }

  let server: Server<undefined>;
  try {
    server = Bun.serve({
      hostname: opts.host,
      port: opts.port,
      fetch: route,
      error(error) {
        logger.error("status request failed", { error });
        return problem(500, "Internal Server Error", "the status server failed; see the supervisor log");
      },
    });
  } catch (error) {
    throw new Error(`status server: cannot listen on ${opts.host}:${opts.port}: ${error instanceof Error ? error.message : String(error)}`);
  }
  logger.info("status server listening", { host: opts.host, port: server.port });
  return {
    port: server.port ?? opts.port,
    async stop() {
      await server.stop(true);
    },
  };
}
