/**
 * The request hook: runs before routing, works out the budget and the client, and ends the
 * request with a 429 or 403 when the limiter says so. It never makes a request fail on its own
 * account: a limiter that throws is logged and the request goes on unlimited.
 */
import { Elysia } from "elysia";
import { isIP, type BlockList } from "node:net";
import type { ClientIpResolver } from "../http/client-ip.ts";
import { ApiError } from "../http/errors.ts";
import { hashKey } from "../keys/secret.ts";
import type { Logger } from "../lib/logger.ts";
import { routeKind } from "./route-kind.ts";
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

export function rateLimitHook(deps: RateLimitHookDeps) {
  const { limits } = deps;
  const plugin = new Elysia({ name: "rate-limits" });
  if (!limits) return plugin;
  return plugin.onRequest(async ({ request, server, set }) => {
    const kind = routeKind(request.method, new URL(request.url).pathname);
    if (kind === "exempt") return;
    const ip = deps.clientIp(request, server?.requestIP(request)?.address);
    if (isExempt(deps.exempt, ip)) return;
    let verdict;
    try {
      verdict = await limits.check({ kind, ip, keyHash: kind === "redirect" ? undefined : bearerHash(request.headers.get("authorization")) });
    } catch (error) {
      deps.logger.error("rate limiter failed; request let through", { error });
      return;
    }
    if (!verdict.pass) throw verdict.error;
    Object.assign(set.headers, verdict.headers);
  });
}

