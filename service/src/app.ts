/**
 * The Elysia app: body parsing, errors, observability, then routes in a stated order. Fixed
 * paths come before `GET /:short_code`, which would otherwise swallow them.
 */
import { swagger } from "@elysiajs/swagger";
import { Elysia } from "elysia";
import type { Deps } from "./deps.ts";
import { createErrorRenderer } from "./http/error-handler.ts";
import { badRequest } from "./http/errors.ts";
import { parseJsonObject } from "./http/json-body.ts";
import { observe } from "./http/observe.ts";
import { healthRoutes } from "./health/routes.ts";
import { importsRoutes } from "./imports/routes.ts";
import { keysRoutes } from "./keys/routes.ts";
import { usersRoutes } from "./users/routes.ts";
import { urlsRoutes } from "./urls/routes.ts";
import { eventsRoutes } from "./events/routes.ts";
import { statsRoutes } from "./stats/routes.ts";
import { redirectRoutes } from "./redirect/routes.ts";
import { VERSION } from "./lib/version.ts";
import { rateLimitHook } from "./limits/hook.ts";
import { bansRoutes } from "./limits/routes.ts";

export function createApp(deps: Deps) {
  const routes: { method: string; path: string }[] = [];
  const renderError = createErrorRenderer({ logger: deps.logger, metrics: deps.metrics, routes: () => routes });

  const app = new Elysia()
    .use(observe({ logger: deps.logger, metrics: deps.metrics, accessLog: deps.config.accessLog }))
    // hooks: rate limits (before any route work)
    .use(rateLimitHook({ limits: deps.rateLimits.limits, clientIp: deps.clientIp, exempt: deps.rateLimits.exempt, logger: deps.logger }))
    .onError({ as: "global" }, renderError)
    .onParse({ as: "global" }, async ({ request, contentType }) => {
      // Multipart (the CSV import) keeps Elysia's parser; everything else must be a JSON object.
      if (contentType.startsWith("multipart/form-data")) return;
      if (contentType === "" && request.headers.get("content-length") === null && !request.body) return;
      if (!/^application\/(.+\+)?json\b/i.test(contentType)) {
        throw badRequest(`request body must be application/json (multipart/form-data for CSV uploads), not ${contentType || "unspecified"}`);
      }
      return parseJsonObject(request);
    })
    .use(swagger({
      path: "/docs",
      exclude: ["/docs", "/docs/json"],
      documentation: {
        info: { title: "linkfort", version: VERSION, description: "Self-hosted URL shortener. Write endpoints need `Authorization: Bearer <key>`." },
        components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
        security: [{ bearer: [] }],
      },
    }))
    .use(healthRoutes(deps))
    .use(keysRoutes(deps)) // routes: keys (/admin/keys)
    .use(bansRoutes({ auth: deps.auth, bans: deps.rateLimits.bans, now: deps.rateLimits.now })) // routes: bans (/admin/bans)
    .use(importsRoutes(deps)) // routes: imports (POST /users/bulk, before /users/:id)
    .use(usersRoutes(deps))
    .use(urlsRoutes(deps)) // routes: urls, events
    .use(eventsRoutes(deps))
    .use(statsRoutes(deps)) // routes: stats (/urls/:id/stats)
    .use(redirectRoutes(deps)) // routes: redirect (GET /:short_code) — always last
    ;

  routes.push(...app.routes.map((r) => ({ method: r.method, path: r.path })));
  return app;
}

export type App = ReturnType<typeof createApp>;
