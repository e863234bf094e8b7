/**
 * The request hook: runs before routing, works out the budget and the client, and ends the
 * request with a 429 or 403 when the limiter says so. It never makes a request fail on its own
 * account: a limiter that throws is logged and the request goes on unlimited.
 */
import { Elysia } from "elysia";
import { isIP, type BlockList } from "node:net";
import type { ClientIpResolver } from "../http/client-ip.ts";
import { hashKey } from "../keys/secret.ts";
import type { Logger } from "../lib/logger.ts";
import { routeKind, type RouteKind } from "./route-kind.ts";
import type { Limits } from "./service.ts";

export interface RateLimitHookDeps {
  /** Undefined when RATE_LIMITS=off. */
  limits: Limits | undefined;
  clientIp: ClientIpResolver;
  /** Clients never limited (RATE_LIMIT_EXEMPT). */
  exempt: BlockList;
  logger: Logger;
}

// Same bound as keys/secret.ts: a longer token cannot be a key, and it is not worth hashing.
const BEARER = /^bearer[ \t]+(\S{1,256})\s*$/i;

export function bearerHash(authorization: string | null): string | undefined {
  const token = authorization ? BEARER.exec(authorization.trim())?.[1] : undefined;
  return token ? hashKey(token) : undefined;
}

function isExempt(list: BlockList, ip: string): boolean {
  const plain = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  const family = isIP(plain);
  return family !== 0 && list.check(plain, family === 6 ? "ipv6" : "ipv4");
}

/**
 * The limiter as the requests see it: undefined when RATE_LIMITS=off. `admit` throws the 429/403
 * ApiError, or resolves with the headers to add; the hook below and the redirect's fast path
 * (redirect/fast-path.ts) both use it.
 */
export function createRequestLimiter(deps: RateLimitHookDeps) {
  const { limits } = deps;
  if (!limits) return undefined;
  return {
    /** `ip` as deps.clientIp resolved it. */
    async admit(request: Request, kind: Exclude<RouteKind, "exempt">, ip: string): Promise<Record<string, string>> {
      if (isExempt(deps.exempt, ip)) return NO_HEADERS;
      let verdict;
      try {
        verdict = await limits.check({ kind, ip, keyHash: kind === "redirect" ? undefined : bearerHash(request.headers.get("authorization")) });
      } catch (error) {
        deps.logger.error("rate limiter failed; request let through", { error });
        return NO_HEADERS;
      }
      if (!verdict.pass) throw verdict.error;
      return verdict.headers;
    },
  };
}

export type RequestLimiter = NonNullable<ReturnType<typeof createRequestLimiter>>;

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export function rateLimitHook(limiter: RequestLimiter | undefined, clientIp: ClientIpResolver) {
  const plugin = new Elysia({ name: "rate-limits" });
  if (!limiter) return plugin;
  return plugin.onRequest(async ({ request, server, set }) => {
    const kind = routeKind(request.method, new URL(request.url).pathname);
    if (kind === "exempt") return;
    const headers = await limiter.admit(request, kind, clientIp(request, server?.requestIP(request)?.address));
    Object.assign(set.headers, headers);
  });
}
