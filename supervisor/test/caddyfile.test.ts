/**
 * The repository's Caddyfile, adapted by the real caddy with the variables the supervisor sets:
 * the upstreams, public port and admin address land where they should, with the health checks
 * and retries the zero-failure tests rely on.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { requireTool } from "../../service/test/tools.ts";

const CADDYFILE = join(import.meta.dir, "../../Caddyfile");

function adapt(env: Record<string, string>): { code: number; json: unknown; stderr: string } {
  const r = Bun.spawnSync([requireTool("caddy"), "adapt", "--config", CADDYFILE, "--adapter", "caddyfile"], { env: { PATH: process.env.PATH ?? "", ...env } });
  const stdout = r.stdout.toString();
  return { code: r.exitCode, json: stdout ? JSON.parse(stdout) : null, stderr: r.stderr.toString() };
}

describe("Caddyfile", () => {
  test("with the supervisor's variables: the admin socket, the public port, each instance an upstream, /ready health checks and retries, edge body limits, a loopback metrics site", () => {
    const r = adapt({ LINKFORT_UPSTREAMS: "127.0.0.1:9081 127.0.0.1:9082", LINKFORT_PUBLIC_PORT: "9080", LINKFORT_CADDY_ADMIN: "unix//tmp/lf/admin.sock", LINKFORT_CADDY_METRICS: "127.0.0.1:9019" });
    expect(r.code, r.stderr).toBe(0);
    // The quickstart profile of the shared Caddyfile (deploy/test/caddyfile.test.ts covers the vm one):
    // HSTS on https only, a request id made at the edge, the instances' /metrics answered with a JSON 404.
    const upload = { method: ["POST"], path: ["/users/bulk"] };
    const tooLarge = (condition: string, limit: number) => ({
      group: "group8", match: [{ expression: condition.replaceAll("LENGTH", "{http.request.header.Content-Length}") }], handle: [{ handler: "subroute", routes: [{ handle: [
        { handler: "headers", response: { set: { "Content-Type": ["application/json;charset=utf-8"] } } },
        { handler: "static_response", status_code: 413, body: JSON.stringify({ error: "Payload Too Large", message: `request body is larger than ${limit} bytes`, limit_bytes: limit }) },
      ] }] }],
    });
    const isUpload = '{http.request.method} == "POST" && {http.request.uri.path} == "/users/bulk"';
    const proxy = {
      handler: "reverse_proxy",
      health_checks: { active: { interval: 250_000_000, timeout: 500_000_000, uri: "/ready" }, passive: { fail_duration: 2_000_000_000 } },
      load_balancing: { try_duration: 5_000_000_000, try_interval: 50_000_000 },
      trusted_proxies: ["127.0.0.1/8", "::1/128"],
      upstreams: [{ dial: "127.0.0.1:9081" }, { dial: "127.0.0.1:9082" }],
    };
    expect(r.json).toEqual({
      admin: { listen: "unix//tmp/lf/admin.sock" },
      logging: { logs: { default: { level: "WARN" } } },
      apps: { http: { servers: {
        srv0: { listen: ["127.0.0.1:9019"], metrics: {}, automatic_https: { skip: ["127.0.0.1"] }, routes: [
          { match: [{ host: ["127.0.0.1"] }], handle: [{ handler: "subroute", routes: [{ handle: [{ handler: "metrics" }] }] }], terminal: true },
        ] },
        srv1: { listen: ["127.0.0.1:9080"], metrics: {}, errors: { routes: [
          // Caddy's own errors as JSON; no upstream answering (502/503/504) with a Retry-After.
          { handle: [{ handler: "headers", response: { set: { "Content-Type": ["application/json;charset=utf-8"] } } }] },
          { match: [{ expression: "{http.error.status_code} in [502, 503, 504]" }], handle: [{ handler: "subroute", routes: [{ handle: [
            { handler: "headers", response: { set: { "Retry-After": ["1"] } } },
            { handler: "static_response", status_code: "{http.error.status_code}", body: '{"error":"{http.error.status_text}","message":"no linkfort instance answered in time; try again shortly","proxy":"{system.hostname}"}' },
          ] }] }] },
          { handle: [{ handler: "static_response", status_code: "{http.error.status_code}", body: '{"error":"{http.error.status_text}","message":"{http.error.status_text}"}' }] },
        ] }, routes: [
        { match: [{ protocol: "https" }], handle: [{ handler: "headers", response: { set: { "Strict-Transport-Security": ["max-age=31536000"] } } }] },
        { match: [upload], handle: [{ handler: "request_body", max_size: 11 * 1024 * 1024 }] },
        { match: [{ not: [upload] }], handle: [{ handler: "request_body", max_size: 2 * 1024 * 1024 }] },
        { handle: [{ handler: "headers", request: { set: { "X-Request-Id": ["{http.request.uuid}"] } } }] },
        { group: "group8", match: [{ path: ["/metrics", "/metrics/*"] }], handle: [{ handler: "subroute", routes: [{ handle: [
          { handler: "headers", response: { set: { "Content-Type": ["application/json;charset=utf-8"] } } },
          { handler: "static_response", status_code: 404, body: '{"error":"Not Found","message":"no route for {http.request.method} /metrics"}' },
        ] }] }] },
        tooLarge(`${isUpload} && LENGTH != "" && int(LENGTH) > 10551296`, 10551296),
        tooLarge(`!(${isUpload}) && LENGTH != "" && int(LENGTH) > 1048576`, 1048576),
        // A CSV upload streams; every other body is buffered, so a retry on another instance carries it.
        { group: "group8", match: [upload], handle: [{ handler: "subroute", routes: [{ handle: [proxy] }] }] },
        { group: "group8", handle: [{ handler: "subroute", routes: [{ handle: [{ ...proxy, buffer_requests: true }] }] }] },
      ] } } } },
    });
  });

  test("without variables it is the documented default: 8080 in front of 8081-8083", () => {
    const r = adapt({});
    expect(r.code, r.stderr).toBe(0);
    const text = JSON.stringify(r.json);
    expect(text).toContain('"listen":["127.0.0.1:8080"]');
    expect(text).toContain('"upstreams":[{"dial":"127.0.0.1:8081"},{"dial":"127.0.0.1:8082"},{"dial":"127.0.0.1:8083"}]');
  });
});
