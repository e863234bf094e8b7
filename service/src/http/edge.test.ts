/** What every route shares: body parsing, unknown routes and methods, request ids, metrics. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { createLogger } from "../lib/logger.ts";
import { createMetrics } from "../metrics.ts";
import { createErrorRenderer } from "./error-handler.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const userCount = async () => (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from users`)[0]?.n;
const json = { "content-type": "application/json" };

describe("request bodies", () => {
  const cases: [string, string | Uint8Array, Record<string, string>, RegExp][] = [
    ["malformed JSON", '{"username": "a",', json, /not valid JSON/],
    ["a bare string", '"alice"', json, /JSON object, not string/],
    ["a number", "42", json, /JSON object, not number/],
    ["an array", '[{"username":"a","email":"a@example.com"}]', json, /JSON object, not an array/],
    ["null", "null", json, /JSON object, not null/],
    ["an empty body", "", json, /empty/],
    ["invalid UTF-8", new Uint8Array([0x7b, 0x22, 0x75, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), json, /UTF-8/],
    ["a repeated key", '{"username":"a","username":"b","email":"a@example.com"}', json, /repeats the key "username"/],
    ["deep nesting", `{"username":"a","email":"a@example.com","x":${"[".repeat(100)}${"]".repeat(100)}}`, json, /nests deeper/],
    ["form encoding", "username=a&email=a%40example.com", { "content-type": "application/x-www-form-urlencoded" }, /application\/json/],
    ["text/plain", '{"username":"a","email":"a@example.com"}', { "content-type": "text/plain" }, /application\/json/],
  ];
  for (const [name, raw, headers, message] of cases) {
    test(`${name} is 400 JSON and writes nothing`, async () => {
      const before = await userCount();
      const res = await h.request("POST", "/users", { raw, headers });
      expect(res.status, show(res)).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/json");
      expect(res.json.error).toBe("Bad Request");
      expect(res.json.message).toMatch(message);
      expect(await userCount()).toBe(before);
    });
  }

  test("no body at all is 400", async () => {
    const res = await h.request("POST", "/users");
    expect(res.status, show(res)).toBe(400);
    expect(res.json).toMatchObject({ error: "Bad Request", message: "request body must be a JSON object" });
  });

  test("a body over 1 MiB is 413 JSON, by Content-Length or by streaming", async () => {
    const big = JSON.stringify({ username: "a", email: "a@example.com", pad: "x".repeat(1024 * 1024) });
    const res = await h.request("POST", "/users", { raw: big, headers: json });
    expect(res.status, show(res)).toBe(413);
    expect(res.json).toEqual({ error: "Payload Too Large", message: "request body is larger than 1048576 bytes", limit_bytes: 1048576 });
    const stream = new Blob([big]).stream();
    const chunked = await h.app.handle(new Request("http://localhost/users", {
      method: "POST", body: stream, headers: { ...json, authorization: `Bearer ${h.adminKey}` },
    }));
    expect(chunked.status).toBe(413);
  });

  test("application/json with a charset and vendor +json types are accepted", async () => {
    const res = await h.request("POST", "/users", { raw: JSON.stringify({ username: "charset", email: "charset@example.com" }), headers: { "content-type": "application/json; charset=utf-8" } });
    expect(res.status, show(res)).toBe(201);
  });
});

describe("routing", () => {
  test("an unknown path is 404 JSON", async () => {
    const res = await h.request("GET", "/no/such/route");
    expect(res.status, show(res)).toBe(404);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(res.json).toEqual({ error: "Not Found", message: "no route for GET /no/such/route" });
  });

  test("a path segment with broken percent-encoding is 404 JSON", async () => {
    for (const path of ["/%E0%A4%A", "/%ff"]) {
      const res = await h.request("GET", path, { key: null });
      expect(res.status, show(res)).toBe(404);
      expect(res.json).toEqual({ error: "Not Found", message: `nothing found at ${path}` });
    }
  });

  test("a known path with another method is 405 JSON with Allow", async () => {
    const res = await h.request("PATCH", "/users");
    expect(res.status, show(res)).toBe(405);
    expect(res.json).toEqual({ error: "Method Not Allowed", message: "PATCH is not allowed on /users" });
    expect(res.headers.get("allow")).toContain("GET");
    expect(res.headers.get("allow")).toContain("POST");
    const del = await h.request("DELETE", "/health");
    expect(del.status, show(del)).toBe(405);
  });
});

describe("an unexpected error", () => {
  test("is a fixed 500 JSON without the stack, logged with its request id", async () => {
    const lines: string[] = [];
    const render = createErrorRenderer({ logger: createLogger("info", {}, (l) => lines.push(l)), metrics: createMetrics(), routes: () => [] });
    const res = render({ code: "UNKNOWN", error: new TypeError("secret internals at foo.ts:12"), request: new Request("http://localhost/x") });
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({ error: "Internal Server Error", message: "something unexpected happened; the request id is in the X-Request-ID header" });
    expect(body).not.toContain("secret internals");
    expect(lines.length).toBe(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "error", msg: "unhandled error", error: { name: "TypeError", message: "secret internals at foo.ts:12" } });
  });
});

describe("observability", () => {
  test("X-Request-ID is echoed when sane and generated otherwise", async () => {
    const given = await h.request("GET", "/health", { headers: { "x-request-id": "abc-123" } });
    expect(given.headers.get("x-request-id")).toBe("abc-123");
    const hostile = await h.request("GET", "/health", { headers: { "x-request-id": "a\"b c".repeat(50) } });
    expect(hostile.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const error = await h.request("GET", "/users/abc");
    expect(error.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("/metrics counts requests by route template and status", async () => {
    await h.request("GET", "/users/424242");
    const res = await h.request("GET", "/metrics", { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(res.text).toMatch(/linkfort_http_requests_total\{method="GET",route="\/users\/:id",status="404"\} \d+/);
    expect(res.text).toContain("linkfort_http_request_duration_seconds_bucket");
    expect(res.text).toContain("linkfort_process_resident_memory_bytes");
    expect(res.text).toMatch(/linkfort_db_connections\{state="idle"\} [1-9]/);
    expect(res.text).toContain("linkfort_db_pool_max_connections 10");
    expect(res.text).not.toContain("/users/424242");
  });

  test("/health, /live and /ready answer without a key", async () => {
    const health = await h.request("GET", "/health", { key: null });
    expect(health.status, show(health)).toBe(200);
    expect(health.json).toEqual({
      status: "ok", version: expect.any(String), uptime_seconds: expect.any(Number), lifecycle: "ready", db: "ok", redis: "off",
      // unshipped_clicks is null until the shipper's first round has read the committed position.
      click_spool: { bytes: expect.any(Number), unshipped_clicks: health.json.click_spool?.unshipped_clicks === null ? null : expect.any(Number), oldest_unshipped_age_seconds: expect.any(Number) },
    });
    expect((await h.request("GET", "/live", { key: null })).json).toEqual({ status: "live" });
    expect((await h.request("GET", "/ready", { key: null })).json).toEqual({ status: "ready" });
  });

  test("/ready is 503 while draining", async () => {
    const other = await testApp();
    other.deps.health.startDraining();
    const res = await other.request("GET", "/ready", { key: null });
    expect(res.status).toBe(503);
    expect(res.json).toEqual({ error: "Service Unavailable", message: "instance is draining", status: "draining" });
    await other.close();
  });

  test("/docs serves the OpenAPI description of every route", async () => {
    const res = await h.request("GET", "/docs/json", { key: null });
    expect(res.status).toBe(200);
    const paths = Object.keys(res.json.paths);
    for (const p of ["/users", "/users/{id}", "/users/bulk", "/urls", "/urls/{id}", "/events", "/events/{id}", "/admin/keys", "/{short_code}"]) {
      expect(paths, p).toContain(p);
    }
  });
});
