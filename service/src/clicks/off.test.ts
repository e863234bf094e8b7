import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";

// CLICKS=off, with and without Redis: redirects answer as usual and record nothing.
let redis: TestRedis;
beforeAll(async () => { redis = await startRedis(); }, 30_000);
afterAll(async () => { await redis.stop(); }, 30_000);

async function redirectTwice(h: TestApp): Promise<number> {
  const userId = (await h.request("POST", "/users", { body: { username: "off", email: "off@example.com" } })).json.id;
  const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://off.example/" } })).json;
  for (let i = 0; i < 2; i++) {
    const res = await h.request("GET", `/${url.short_code}`, { key: null });
    expect(res.status, show(res)).toBe(302);
    expect(res.headers.get("location")).toBe("https://off.example/");
  }
  await h.deps.clicks.flushNow();
  return (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where event_type = 'clicked'`)[0]!.n;
}

describe("CLICKS=off", () => {
  test("without Redis: 302s, no clicked events", async () => {
    const h = await testApp({ clicks: false });
    try {
      expect(await redirectTwice(h)).toBe(0);
    } finally {
      await h.close();
    }
  });

  test("with Redis: 302s, nothing on the stream, no clicked events", async () => {
    const h = await testApp({ clicks: false, redisUrl: redis.url, clickStreamKey: "t:off" });
    try {
      for (let i = 0; i < 200 && !h.deps.redis!.up; i++) await Bun.sleep(25);
      expect(h.deps.redis!.up).toBe(true);
      expect(await redirectTwice(h)).toBe(0);
      expect(await h.deps.redis!.command.xlen("t:off")).toBe(0);
    } finally {
      await h.close();
    }
  });

  test("on (the default) records each redirect, as a control for the two above", async () => {
    const h = await testApp();
    try {
      expect(await redirectTwice(h)).toBe(2);
    } finally {
      await h.close();
    }
  });
});
