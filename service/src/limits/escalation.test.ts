import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { buildDeps, type Deps } from "../deps.ts";
import { testConfig } from "../config.ts";
import { silentLogger } from "../lib/logger.ts";
import { testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { waitFor } from "../../test/wait.ts";
import { clockedApp, describeSent, freshIp, limitsConfig, SETUP_IP, send, type Clock } from "./test-kit.ts";
import type { App } from "../app.ts";

const HOUR = 3_600_000;
let redis: TestRedis;
let h: TestApp;
let second: Deps;
const clock: Clock = { now: Date.UTC(2030, 5, 1) };
const config = (url: string) => limitsConfig(url, { banAfterViolations: 2, banPermanentAfter: 1, banDurationS: 3_600 });

beforeAll(async () => {
  redis = await startRedis();
  h = await testApp(config(redis.url));
  // A second instance: its own pool, Redis client and limiter, the same database and Redis.
  second = buildDeps(testConfig(config(redis.url)), silentLogger, h.databaseUrl);
  // Both instances start a ban sync on the real clock, years behind the test's: wait for those
  // first rounds, or one can land mid-test (it did under load). And both must talk to Redis
  // already: these tests are about Redis deciding (strike-split.test.ts covers memory deciding).
  await h.deps.rateLimits.sync?.runOnce();
  await second.rateLimits.sync?.runOnce();
  await waitFor("both instances' Redis connections", () => h.deps.redis!.up && second.redis!.up, 20_000);
}, 30_000);
afterAll(async () => {
  await second?.close();
  await h?.close();
  await redis?.stop();
}, 30_000);

/** Spends the client's read budget and one more: a 429, or a 403 once the strikes add up. */
async function violate(app: App, ip: string) {
  for (let i = 0; i < 3; i++) await send(app, "GET", "/users", { ip });
  return send(app, "GET", "/users", { ip });
}

describe("ban escalation", () => {
  test("warning, then a 1-hour ban, then a permanent ban; an admin lifts it on every instance at once", async () => {
    const a = clockedApp(h.deps, clock);
    const b = clockedApp(second, clock);
    const ip = freshIp();

    const warning = await violate(a, ip);
    expect(warning.status, describeSent(warning)).toBe(429);

    clock.now += 61_000; // the budget refills and the next strike counts
    const banned = await violate(a, ip);
    const until = new Date(clock.now + HOUR).toISOString();
    expect(banned.status, describeSent(banned)).toBe(403);
    expect(banned.body).toEqual({ error: "Forbidden", message: `this client is banned until ${until} for repeatedly exceeding rate limits`, until });
    expect(banned.headers.get("retry-after")).toBe("3600");
    // Banned everywhere and for every budget, redirects included.
    expect((await send(b, "POST", "/users", { ip, body: {} })).status).toBe(403);
    expect((await send(b, "GET", "/abcdef", { ip })).status).toBe(403);

    const list = await send(a, "GET", "/admin/bans", { ip: SETUP_IP, key: h.adminKey });
    expect(list.status, describeSent(list)).toBe(200);
    const temporary = (list.body as unknown as Record<string, unknown>[]).find((x) => x.subject === ip);
    expect(temporary).toMatchObject({ kind: "ip", level: "temporary", until: until.slice(0, 19), lifted_at: null, active: true });

    clock.now += HOUR + 1_000; // the ban ends by itself
    expect((await send(a, "GET", "/users", { ip, key: h.adminKey })).status).toBe(200);

    expect((await violate(a, ip)).status).toBe(429);
    clock.now += 61_000;
    const permanent = await violate(a, ip);
    expect(permanent.status, describeSent(permanent)).toBe(403);
    expect(permanent.body).toEqual({ error: "Forbidden", message: "this client is banned permanently for repeatedly exceeding rate limits" });
    clock.now += 30 * 24 * HOUR;
    expect((await send(b, "GET", "/users", { ip })).status).toBe(403);

    const active = await send(a, "GET", "/admin/bans", { ip: SETUP_IP, key: h.adminKey });
    const ban = (active.body as unknown as Record<string, unknown>[]).find((x) => x.subject === ip);
    expect(ban).toMatchObject({ level: "permanent", until: null, active: true });

    const lifted = await send(a, "DELETE", `/admin/bans/${ban?.id}`, { ip: SETUP_IP, key: h.adminKey });
    expect(lifted.status, describeSent(lifted)).toBe(204);
    expect((await send(b, "GET", "/users", { ip, key: h.adminKey })).status).toBe(200);
    expect((await send(a, "GET", "/users", { ip, key: h.adminKey })).status).toBe(200);

    const after = await send(a, "GET", "/admin/bans", { ip: SETUP_IP, key: h.adminKey });
    expect((after.body as unknown as Record<string, unknown>[]).some((x) => x.subject === ip)).toBe(false);
    const withLifted = await send(a, "GET", "/admin/bans?include_lifted=true", { ip: SETUP_IP, key: h.adminKey });
    expect((withLifted.body as unknown as Record<string, unknown>[]).find((x) => x.id === ban?.id)).toMatchObject({ active: false });
  }, 20_000);

  // Regression: a sync on an instance whose clock is behind copied a ban that had already ended
  // for the others back into Redis, and copying it wiped the strikes counted since: the escalation
  // to a permanent ban restarted from zero (a 429 where a 403 was due).
  test("a ban copied by the sync does not wipe the strikes counted after it ended", async () => {
    const a = clockedApp(h.deps, clock);
    const ip = freshIp();
    await violate(a, ip);
    clock.now += 61_000;
    expect((await violate(a, ip)).status).toBe(403);
    clock.now += HOUR + 1_000; // over for the clocked instance; still active on the real clock
    expect((await violate(a, ip)).status).toBe(429);
    await h.deps.rateLimits.sync?.runOnce(); // the real-clock instance copies the ban back into Redis
    clock.now += 61_000;
    const permanent = await violate(a, ip);
    expect(permanent.status, describeSent(permanent)).toBe(403);
    expect(permanent.body).toEqual({ error: "Forbidden", message: "this client is banned permanently for repeatedly exceeding rate limits" });
  }, 20_000);

  test("a ban survives a Redis flush: the sync copies it back from PostgreSQL", async () => {
    const a = clockedApp(h.deps, clock);
    const ip = freshIp();
    await violate(a, ip);
    clock.now += 61_000;
    expect((await violate(a, ip)).status).toBe(403);
    await h.deps.redis!.command.flushall();
    await h.deps.rateLimits.sync?.runOnce(); // the real clock's sync; the ban is a real hour long
    expect((await send(a, "GET", "/users", { ip })).status).toBe(403);
  });

  test("only admin keys reach /admin/bans; an unknown ban is 404", async () => {
    const a = clockedApp(h.deps, clock);
    const user = await send(a, "POST", "/users", { ip: SETUP_IP, key: h.adminKey, body: { username: "bu", email: "bu@e.com" } });
    const userKey = await h.insertKey("user", Number(user.body?.id));
    const list = await send(a, "GET", "/admin/bans", { ip: SETUP_IP, key: userKey });
    expect(list.status, describeSent(list)).toBe(403);
    expect(list.body?.error).toBe("Forbidden");
    expect((await send(a, "DELETE", "/admin/bans/1", { ip: SETUP_IP, key: userKey })).status).toBe(403);
    expect((await send(a, "GET", "/admin/bans", { ip: SETUP_IP })).status).toBe(401);
    const missing = await send(a, "DELETE", "/admin/bans/999999", { ip: SETUP_IP, key: h.adminKey });
    expect(missing.status, describeSent(missing)).toBe(404);
    expect((await send(a, "GET", "/admin/bans?include_lifted=maybe", { ip: SETUP_IP, key: h.adminKey })).status).toBe(400);
  });
});
