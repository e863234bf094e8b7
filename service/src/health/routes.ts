/** /live, /ready, /health and /metrics: public, cheap, never behind an API key. */
import { Elysia, t } from "elysia";
import { ErrorBody } from "../http/openapi.ts";
import type { Metrics } from "../metrics.ts";
import type { RedisClients } from "../redis.ts";
import { VERSION } from "../lib/version.ts";
import type { Health } from "./state.ts";
import type { SpoolBacklog } from "../clicks/shipping.ts";

export function healthRoutes(deps: { health: Health; metrics: Metrics; redis: RedisClients | undefined; clickBacklog(): SpoolBacklog }) {
  const { health } = deps;
  const detail = { tags: ["health"], security: [] };
  return new Elysia()
    .get("/live", () => ({ status: "live" as const }), {
      response: t.Object({ status: t.Literal("live") }),
      detail: { ...detail, summary: "The process answers" },
    })
    .get("/ready", ({ set }) => {
      if (health.lifecycle === "ready") return { status: "ready" as const };
      set.status = 503;
      return { error: "Service Unavailable", message: `instance is ${health.lifecycle}`, status: health.lifecycle };
    }, {
      response: { 200: t.Object({ status: t.Literal("ready") }), 503: ErrorBody },
      detail: { ...detail, summary: "Ready for traffic (not starting, not draining)" },
    })
    .get("/health", async () => {
      const db = await health.db();
      return {
        status: db === "ok" ? "ok" : "degraded",
        version: VERSION,
        uptime_seconds: health.uptimeSeconds(),
        lifecycle: health.lifecycle,
        db,
        // "off" when REDIS_URL is unset: not a fault, only slower redirects and per-instance limits.
        redis: deps.redis ? (deps.redis.up ? "ok" : "down") : "off",
        // Clicks on local disk not yet in PostgreSQL: grows while PostgreSQL is down, drains after.
        click_spool: deps.clickBacklog(),
      };
    }, {
      response: t.Object({
        status: t.String(), version: t.String(), uptime_seconds: t.Number(), lifecycle: t.String(), db: t.String(), redis: t.String(),
        click_spool: t.Object({ bytes: t.Integer(), unshipped_clicks: t.Union([t.Integer(), t.Null()]), oldest_unshipped_age_seconds: t.Number() }),
      }, { additionalProperties: true }),
      detail: { ...detail, summary: "Summary for people: version, uptime, dependencies" },
    })
    .get("/metrics", async ({ set }) => {
      set.headers["content-type"] = deps.metrics.registry.contentType;
      return deps.metrics.registry.metrics();
    }, {
      response: t.String({ description: "Prometheus text exposition format" }),
      detail: { ...detail, summary: "Prometheus metrics" },
    });
}
