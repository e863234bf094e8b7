/**
 * The Elysia app: body parsing, errors, observability, then routes in a stated order. Fixed
 * paths come before `GET /:short_code`, which would otherwise swallow them.
 */
import { Elysia } from "elysia";
import type { Deps } from "./deps.ts";
import { createErrorRenderer } from "./http/error-handler.ts";
import { badRequest } from "./http/errors.ts";
import { parseJsonObject } from "./http/json-body.ts";
import { createObserver, observe } from "./http/observe.ts";
import { authenticateBeforeBody } from "./http/early-auth.ts";
import { openApiDocs } from "./http/docs.ts";
import { healthRoutes } from "./health/routes.ts";
import { importsRoutes } from "./imports/routes.ts";
import { keysRoutes } from "./keys/routes.ts";
import { usersRoutes } from "./users/routes.ts";
import { urlsRoutes } from "./urls/routes.ts";
import { eventsRoutes } from "./events/routes.ts";
import { statsRoutes } from "./stats/routes.ts";
import { qrRoutes } from "./qr/routes.ts";
import { redirectRoutes } from "./redirect/routes.ts";
import { VERSION } from "./lib/version.ts";
import { createRequestLimiter, rateLimitHook } from "./limits/hook.ts";
import { REDIRECT_ROUTE, redirectFastPath } from "./redirect/fast-path.ts";
import { bansRoutes } from "./limits/routes.ts";
import { adminLinksRoutes } from "./admin-links/routes.ts";
import { RESERVED_SEGMENTS, requireReserved } from "./redirect/reserved-segments.ts";

/** Methods whose routes here take no request body. */
const BODILESS_METHODS = new Set(["GET", "HEAD", "DELETE"]);

export interface AppOptions {
  /** Serve GET /:short_code from Bun's router (redirect/fast-path.ts); false: through Elysia only. */
  fastRedirect?: boolean;
}

export function createApp(deps: Deps, options: AppOptions = {}) {
  const routes: { method: string; path: string }[] = [];
  const renderError = createErrorRenderer({ logger: deps.logger, metrics: deps.metrics, routes: () => routes });
  const observer = createObserver({ logger: deps.logger, metrics: deps.metrics, accessLog: deps.config.accessLog });
  const limiter = createRequestLimiter({ limits: deps.rateLimits.limits, clientIp: deps.clientIp, exempt: deps.rateLimits.exempt, logger: deps.logger });
  const fastRedirect = redirectFastPath({
    redirect: deps.redirect, clientIp: deps.clientIp, observer, limiter, renderError, fixed: RESERVED_SEGMENTS,
    elysia: (request) => app.fetch(request),
  });

  const app = new Elysia(options.fastRedirect === false ? {} : { serve: { routes: { [REDIRECT_ROUTE]: { GET: fastRedirect } } } })
    .use(observe(observer))
    // hooks: rate limits (before any route work)
    .use(rateLimitHook(limiter, deps.clientIp))
    .onError({ as: "global" }, renderError)
    // hooks: the key of a request with a body, before anything reads that body
    .use(authenticateBeforeBody(deps.auth))
    .onParse({ as: "global" }, async ({ request, contentType }) => {
      // Multipart (the CSV import) keeps Elysia's parser; everything else must be a JSON object.
      if (contentType.startsWith("multipart/form-data")) return;
      if (contentType === "" && request.headers.get("content-length") === null && !request.body) return;
      // A declared empty body on a route that takes none (fetch sends `Content-Length: 0` with a
      // bodiless DELETE) is no body, whatever Content-Type the client added.
      if (request.headers.get("content-length") === "0" && BODILESS_METHODS.has(request.method)) return null;
      if (!/^application\/(.+\+)?json\b/i.test(contentType)) {
        throw badRequest(`request body must be application/json (multipart/form-data for CSV uploads), not ${contentType || "unspecified"}`);
      }
      return parseJsonObject(request);
    })
    .use(openApiDocs(VERSION))
    .use(healthRoutes(deps))
    .use(keysRoutes(deps)) // routes: keys (/admin/keys)
    .use(bansRoutes({ auth: deps.auth, bans: deps.rateLimits.bans, now: deps.rateLimits.now })) // routes: bans (/admin/bans)
    .use(adminLinksRoutes({ auth: deps.auth, sql: deps.sql })) // routes: links at a glance (/admin/links)
    .use(importsRoutes(deps)) // routes: imports (POST /users/bulk, before /users/:id)
    .use(usersRoutes(deps))
    .use(urlsRoutes(deps)) // routes: urls, events
    .use(eventsRoutes(deps))
    .use(statsRoutes(deps)) // routes: stats (/urls/:id/stats)
    .use(qrRoutes(deps)) // routes: qr (/urls/:id/qr)
    .use(redirectRoutes(deps)) // routes: redirect (GET /:short_code) — always last
    ;

  routes.push(...app.routes.map((r) => ({ method: r.method, path: r.path })));
  // A route whose first segment is not reserved could be issued as a short code: refuse to start.
  requireReserved(routes);
  return app;
}

export type App = ReturnType<typeof createApp>;
