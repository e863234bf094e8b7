import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { waitFor } from "../../test/wait.ts";
import { clockedApp, describeSent, freshIp, limitsConfig, makeLink, send, type Clock } from "./test-kit.ts";

let redis: TestRedis;
let h: TestApp;
const clock: Clock = { now: Date.UTC(2031, 0, 1) };

beforeAll(async () => {
  redis = await startRedis();
  h = await testApp(limitsConfig(redis.url, { rateLimitRedirects: 5 }));
}, 30_000); // starting PostgreSQL databases and redis-server takes seconds on a loaded machine
afterAll(async () => {
  await h?.close();
  await redis?.stop();
}, 30_000);

const until = (condition: () => boolean, what: string) => waitFor(what, condition, 10_000, { everyMs: 20 });

describe("Redis stopped mid-run", () => {
  test("redirects keep answering 302, the per-instance limiter still limits, and Redis takes over again when back", async () => {
    const app = clockedApp(h.deps, clock);
    const code = await makeLink(app, h.adminKey);
    await until(() => h.deps.redis!.up, "redis is up");

    // Traffic from many clients while Redis goes away under it: never a 5xx, never a refusal.
    const traffic = Array.from({ length: 60 }, async (_, i) => {
      if (i === 20) await redis.stop();
      return send(app, "GET", `/${code}`, { ip: freshIp() });
    });
    for (const res of await Promise.all(traffic)) expect(res.status, describeSent(res)).toBe(302);
    await until(() => !h.deps.redis!.up, "redis is seen down");

    const ip = freshIp();
    const started = performance.now();
    for (let i = 0; i < 5; i++) {
      const res = await send(app, "GET", `/${code}`, { ip });
      expect(res.status, describeSent(res)).toBe(302);
    }
    const refused = await send(app, "GET", `/${code}`, { ip });
    expect(refused.status, describeSent(refused)).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("12");
    // The fail-fast client adds no wait: six requests stay far below one command timeout each.
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await h.deps.redis!.command.exists("limits:tat:redirect:ip:" + ip).catch(() => "down")).toBe("down");

    await redis.start();
    await until(() => h.deps.redis!.up, "redis is back");
    const back = freshIp();
    expect((await send(app, "GET", `/${code}`, { ip: back })).status).toBe(302);
    // The charge went to Redis again: the bucket is there, and a second instance sees it.
    expect(await h.deps.redis!.command.exists(`limits:tat:redirect:ip:${back}`)).toBe(1);
    const other = clockedApp(h.deps, clock);
    for (let i = 0; i < 4; i++) expect((await send(other, "GET", `/${code}`, { ip: back })).status).toBe(302);
    expect((await send(app, "GET", `/${code}`, { ip: back })).status).toBe(429);
  });
});
