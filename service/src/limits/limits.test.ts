import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { clientIpResolver, parseTrustedProxies } from "../http/client-ip.ts";
import { testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { clockedApp, describeSent, freshIp, limitsConfig, makeLink, send, SETUP_IP, type Clock } from "./test-kit.ts";

let redis: TestRedis;
let h: TestApp;
const clock: Clock = { now: Date.UTC(2030, 0, 1) };

beforeAll(async () => {
  redis = await startRedis();
  h = await testApp(limitsConfig(redis.url));
}, 30_000); // starting PostgreSQL databases and redis-server takes seconds on a loaded machine
afterAll(async () => {
  await h?.close();
  await redis?.stop();
}, 30_000);

describe("a budget of N", () => {
  test("allows N writes with RateLimit headers, then answers 429 with the exact body and headers", async () => {
    const app = clockedApp(h.deps, clock);
    const key = await h.insertKey("admin");
    const ip = freshIp();
    for (const remaining of [2, 1, 0]) {
      const res = await send(app, "POST", "/users", { ip, key, body: { username: `w${remaining}${ip}`, email: `w${remaining}${ip}@e.com` } });
      expect(res.status, describeSent(res)).toBe(201);
      expect(res.headers.get("ratelimit-limit")).toBe("3");
      expect(res.headers.get("ratelimit-remaining")).toBe(String(remaining));
    }
    const refused = await send(app, "POST", "/users", { ip, key, body: { username: "late", email: "late@e.com" } });
    expect(refused.status, describeSent(refused)).toBe(429);
    expect(refused.body).toEqual({
      error: "Too Many Requests",
      message: "rate limit of 3 API writes per minute exceeded; retry in 20 s (repeated violations lead to a ban)",
      retry_after: 20,
    });
    expect(refused.headers.get("retry-after")).toBe("20");
    expect(refused.headers.get("ratelimit-limit")).toBe("3");
    expect(refused.headers.get("ratelimit-remaining")).toBe("0");
    expect(refused.headers.get("ratelimit-reset")).toBe("60");
    expect(refused.headers.get("content-type")).toContain("application/json");
    // Nothing was written by the refused request.
    expect((await send(app, "GET", "/users?per_page=100", { ip: SETUP_IP, key })).text).not.toContain("late@e.com");

    clock.now += 20_000;
    const later = await send(app, "POST", "/users", { ip, key, body: { username: `again${ip}`, email: `again${ip}@e.com` } });
    expect(later.status, describeSent(later)).toBe(201);
  });

  test("redirect exhaustion does not block API writes or reads of the same client", async () => {
    const app = clockedApp(h.deps, clock);
    const code = await makeLink(app, h.adminKey);
    const ip = freshIp();
    for (let i = 0; i < 3; i++) expect((await send(app, "GET", `/${code}`, { ip })).status).toBe(302);
    const refused = await send(app, "GET", `/${code}`, { ip });
    expect(refused.status, describeSent(refused)).toBe(429);
    expect(refused.body?.message).toBe("rate limit of 3 redirects per minute exceeded; retry in 20 s (repeated violations lead to a ban)");
    const key = await h.insertKey("admin");
    const write = await send(app, "POST", "/users", { ip, key, body: { username: `s${ip}`, email: `s${ip}@e.com` } });
    expect(write.status, describeSent(write)).toBe(201);
    expect((await send(app, "GET", "/users", { ip, key })).status).toBe(200);
  });

  test("the per-key budget follows the key across client addresses", async () => {
    const app = clockedApp(h.deps, clock);
    const key = await h.insertKey("admin");
    for (let i = 0; i < 3; i++) expect((await send(app, "GET", "/users", { ip: freshIp(), key })).status).toBe(200);
    const refused = await send(app, "GET", "/users", { ip: freshIp(), key });
    expect(refused.status, describeSent(refused)).toBe(429);
  });

  test("health, readiness, metrics and docs are never limited", async () => {
    const app = clockedApp(h.deps, clock);
    const ip = freshIp();
    for (let i = 0; i < 10; i++) {
      for (const path of ["/health", "/live", "/ready", "/metrics"]) {
        const res = await send(app, "GET", path, { ip });
        expect(res.status, `${path} ${describeSent(res)}`).toBe(200);
      }
    }
  });

  test("instances sharing Redis share the budget", async () => {
    const a = clockedApp(h.deps, clock);
    const b = clockedApp(h.deps, clock);
    const code = await makeLink(a, h.adminKey);
    const ip = freshIp();
    for (const app of [a, b, a]) expect((await send(app, "GET", `/${code}`, { ip })).status).toBe(302);
    expect((await send(b, "GET", `/${code}`, { ip })).status).toBe(429);
  });
});

describe("X-Forwarded-For", () => {
  test("is honoured from a trusted peer: each forwarded client has its own budget", async () => {
    const app = clockedApp(h.deps, clock);
    const code = await makeLink(app, h.adminKey);
    const [one, two] = [freshIp(), freshIp()];
    for (let i = 0; i < 3; i++) expect((await send(app, "GET", `/${code}`, { ip: one })).status).toBe(302);
    expect((await send(app, "GET", `/${code}`, { ip: one })).status).toBe(429);
    expect((await send(app, "GET", `/${code}`, { ip: two })).status).toBe(302);
  });

  test("is ignored from an untrusted peer: forged addresses share the peer's budget", async () => {
    // Loopback (the in-process peer) is not in this list, so the header is the client's own words.
    const app = clockedApp(h.deps, clock, { clientIp: clientIpResolver(parseTrustedProxies("10.9.9.9")) });
    const code = await makeLink(clockedApp(h.deps, clock), h.adminKey);
    for (let i = 0; i < 3; i++) expect((await send(app, "GET", `/${code}`, { ip: freshIp() })).status).toBe(302);
    const refused = await send(app, "GET", `/${code}`, { ip: freshIp() });
    expect(refused.status, describeSent(refused)).toBe(429);
  });
});
