/**
 * The supervisor's own HTTP server: GET /status (JSON), GET /metrics (Prometheus), GET / (the
 * status page), POST /rolling-restart. Loopback only by default, see loopback.ts for why; a POST
 * also needs the control token (control-token.ts).
 */
import type { Server } from "bun";
import type { Logger } from "../../../service/src/lib/logger.ts";
import type { SupervisorMetrics } from "../metrics.ts";
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
  logger: Logger;
  /** Bind a non-loopback host anyway, e.g. behind an authenticating proxy (default false). */
  allowNonLoopback?: boolean;
  /** Seconds between reloads of the status page (default 5). */
  refreshSeconds?: number;
}

export interface StatusServer {
  port: number;
  stop(): Promise<void>;
}

const ROUTES: Record<string, string> = { "/": "GET", "/status": "GET", "/metrics": "GET", "/rolling-restart": "POST" };
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
  let rolling: Promise<RollingRestartResult> | undefined;

  async function rollingRestart(req: Request, server: Server<undefined>): Promise<Response> {
    if (rolling) return problem(409, "Conflict", "a rolling restart is already running");
    // Bun.serve drops a request that stays quiet for idleTimeout (default 10 s, oven-sh/bun#13712);
    // a rolling restart takes longer and its caller waits for the result.
    server.timeout(req, 0);
    logger.info("rolling restart requested");
    rolling = opts.onRollingRestart().finally(() => { rolling = undefined; });
    try {
      const result = await rolling;
      logger.info("rolling restart finished", { ok: result.ok, detail: result.detail });
      return json(result.ok ? 200 : 500, { ok: result.ok, detail: result.detail });
    } catch (error) {
      logger.error("rolling restart failed", { error });
      return json(500, { ok: false, detail: error instanceof Error ? error.message : String(error) });
    }
  }

  async function route(req: Request, server: Server<undefined>): Promise<Response> {
    const path = new URL(req.url).pathname;
    const method = ROUTES[path];
    if (!method) return problem(404, "Not Found", `no route ${path}`);
    if (req.method !== method) return problem(405, "Method Not Allowed", `${path} accepts ${method} only`, { Allow: method });
    const refused = refusal(req, { loopbackOnly });
    if (refused) return problem(403, "Forbidden", refused);
    if (method === "POST" && !tokenMatches(req.headers.get("authorization"), opts.controlToken)) {
      return problem(401, "Unauthorized", "POST needs the control token (Authorization: Bearer <the token file's contents>); `linkfort-supervisor rolling-restart` sends it");
    }
    if (path === "/status") return json(200, opts.snapshot());
    if (path === "/metrics") {
      return new Response(await opts.metrics.registry.metrics(), { headers: { ...COMMON, "Content-Type": opts.metrics.registry.contentType } });
    }
    if (path === "/") {
      const page = renderStatusPage(opts.snapshot(), opts.refreshSeconds === undefined ? {} : { refreshSeconds: opts.refreshSeconds });
      return new Response(page, { headers: { ...COMMON, "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": PAGE_CSP } });
    }
    return rollingRestart(req, server);
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
