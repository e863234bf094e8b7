/**
 * PostgreSQL going away under a running app: clients get 503 JSON with Retry-After (never a 500
 * or a hang), health says so, readiness does not flap, and everything recovers by itself.
 * The outage is real: a loopback TCP proxy between the pool and PostgreSQL is stopped.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp, type App } from "../src/app.ts";
import { testConfig } from "../src/config.ts";
import { buildDeps, type Deps } from "../src/deps.ts";
import { silentLogger } from "../src/lib/logger.ts";
import { show, testApp, type TestApp, type TestResponse } from "./harness.ts";
import { tcpProxy, type TcpProxy } from "./tcp-proxy.ts";
import { settle } from "./wait.ts";

let h: TestApp;
let proxy: TcpProxy;
let deps: Deps;
let app: App;
let key: string;
let code: string;
let proxiedUrl: string;

async function call(method: string, path: string, body?: unknown): Promise<TestResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await app.handle(new Request(`http://localhost${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  h = await testApp();
  key = h.adminKey;
  const target = new URL(h.databaseUrl);
  proxy = tcpProxy({ host: target.hostname, port: Number(target.port) });
  await proxy.start();
  target.port = String(proxy.port);
  proxiedUrl = target.toString();
  deps = buildDeps(testConfig(), silentLogger, proxiedUrl);
  deps.health.markReady();
  app = createApp(deps);
  const user = await call("POST", "/users", { username: "outage", email: "outage@example.com" });
  code = (await call("POST", "/urls", { user_id: user.json.id, original_url: "https://outage.example/" })).json.short_code;
}, 30_000);
// postgres.js's end() waits its full timeout (5 s) after connections were cut under it, even
// once the server is back; the hook gets time for that.
afterAll(async () => {
  await deps.close();
  await proxy.stop();
  await h.close();
}, 20_000);

describe("PostgreSQL down", () => {
  test("a redirect served once keeps working from the instance's cache while PostgreSQL is down", async () => {
    const user = await call("GET", "/users?per_page=1");
    const cachedCode = (await call("POST", "/urls", { user_id: user.json[0].id, original_url: "https://cached.example/" })).json.short_code;
    expect((await call("GET", `/${cachedCode}`)).status).toBe(302);
    await proxy.stop();
    try {
      const res = await call("GET", `/${cachedCode}`);
      expect(res.status, show(res)).toBe(302);
      expect(res.headers.get("location")).toBe("https://cached.example/");
      expect(res.headers.get("x-cache")).toBe("lru");
    } finally {
      await proxy.start();
    }
  }, 30_000);

  test("a cached redirect keeps answering past its TTL while PostgreSQL is down", async () => {
    const ttlMs = 200;
    const short = buildDeps(testConfig({ cacheTtlMs: ttlMs }), silentLogger, proxiedUrl);
    short.health.markReady();
    const shortApp = createApp(short);
    const follow = () => shortApp.handle(new Request(`http://localhost/${code}`));
    try {
      expect((await follow()).status).toBe(302);
      const cachedAt = Date.now();
      await proxy.stop();
      // The TTL runs out during the outage: the entry is expired, not gone.
      await settle(async () => Date.now(), (now) => now > cachedAt + ttlMs, 5_000, 20);
      const res = await follow();
      expect(res.status, await res.clone().text()).toBe(302);
      expect([res.headers.get("location"), res.headers.get("x-cache")]).toEqual(["https://outage.example/", "lru"]);
    } finally {
      await proxy.start();
      await short.close();
    }
  }, 30_000);

  test("API calls and uncached redirects are 503 JSON with Retry-After; /ready stays 200; all recovers", async () => {
    await proxy.stop();
    for (const [method, path, body] of [
      ["GET", "/users", undefined],
      ["POST", "/users", { username: "during", email: "during@example.com" }],
      ["GET", `/${code}`, undefined],
    ] as const) {
      const res = await call(method, path, body);
      expect(res.status, `${method} ${path}: ${show(res)}`).toBe(503);
      expect(res.json).toEqual({ error: "Service Unavailable", message: "the database is not answering; try again shortly" });
      expect(res.headers.get("retry-after")).toBe("5");
    }
    const health = await call("GET", "/health");
    expect(health.json).toMatchObject({ status: "degraded", db: "down" });
    expect((await call("GET", "/ready")).status).toBe(200);

    await proxy.start();
    const after = await call("GET", `/${code}`);
    expect(after.status, show(after)).toBe(302);
    const created = await call("POST", "/users", { username: "after", email: "after@example.com" });
    expect(created.status, show(created)).toBe(201);
    // /health caches its probe for a second: wait for a fresh one to see the database again.
    const healthy = await settle(() => call("GET", "/health"), (res) => (res.json as { db?: string } | undefined)?.db === "ok", 10_000, 100);
    expect(healthy.json).toMatchObject({ status: "ok", db: "ok" });
  }, 30_000);
});
