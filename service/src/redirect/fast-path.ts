/**
 * GET /:short_code straight from Bun's router, in front of Elysia. A redirect is most of the
 * traffic and needs none of what Elysia's lifecycle does per request (context, hooks, schema,
 * response mapping), which cost more than the redirect itself. This handler does what those
 * hooks do for this one route (request id, rate limit, metrics, access log, the error renderer)
 * by calling the same functions, and answers exactly as the Elysia route in routes.ts does.
 * Anything not plainly a code (percent-encoded, too long, a fixed path) goes to Elysia.
 */
import type { BunRequest, Server } from "bun";
import type { ClientIpResolver } from "../http/client-ip.ts";
import type { Observer } from "../http/observe.ts";
import type { RequestLimiter } from "../limits/hook.ts";
import { routeKind } from "../limits/route-kind.ts";
import { redirectAnswer } from "./answer.ts";
import { isCodeShaped } from "./model.ts";
import type { RedirectService } from "./service.ts";

export const REDIRECT_ROUTE = "/:short_code";

// Typed as Bun.serve's `routes` values are, which Elysia's `serve` option passes through.
type Handler = (request: BunRequest<string>, server: Server<unknown>) => Response | Promise<Response>;

export interface FastPathDeps {
  redirect: RedirectService;
  clientIp: ClientIpResolver;
  observer: Observer;
  limiter: RequestLimiter | undefined;
  /** The app's error renderer (Elysia's onError): the same JSON, status and metrics for every error. */
  renderError(context: { code: string; error: unknown; request: Request }): Response;
  /** Elysia's own handling, for requests this path does not take. */
  elysia(request: Request): Response | Promise<Response>;
  /** First path segments of fixed routes (RESERVED_SEGMENTS, e.g. "health"): Elysia routes those. */
  fixed: ReadonlySet<string>;
}

export function redirectFastPath(deps: FastPathDeps): Handler {
  const { redirect, clientIp, observer, limiter, renderError } = deps;

  async function answer(request: Request, code: string, peer: string | undefined): Promise<Response> {
    const record = observer.begin(request);
    let response: Response;
    try {
      const ip = clientIp(request, peer);
      if (limiter) {
        const kind = routeKind("GET", `/${code}`);
        if (kind !== "exempt") await limiter.admit(request, kind, ip);
      }
      const value = await redirect.follow(code, {
        referrer: request.headers.get("referer"),
        userAgent: request.headers.get("user-agent"),
        clientIp: ip,
        countClick: request.method !== "HEAD",
        // One UUIDv7 for both: the request id when we made it is as good a click id.
        clickId: record.fresh ? record.id : undefined,
      });
      response = redirectAnswer(value, code, request, record.id);
    } catch (error) {
      observer.track(request, record);
      response = renderError({ code: "UNKNOWN", error, request });
      response.headers.set("x-request-id", record.id);
    }
    observer.end(request, record, REDIRECT_ROUTE, response.status, `/${code}`);
    return response;
  }

  return (request, server) => {
    const code = request.params.short_code ?? "";
    if (!isCodeShaped(code) || deps.fixed.has(code)) return deps.elysia(request);
    return answer(request, code, server.requestIP(request)?.address);
  };
}
