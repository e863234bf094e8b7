/**
 * What the Redis tier holds is input like any other. A local process that
 * can write `lf:code:<code>` must not redirect a link anywhere: a value that is not exactly what
 * linkfort writes, or whose URL fails the API's http/https checks, is a miss, is counted, and is
 * deleted; the redirect answers from PostgreSQL. Real PostgreSQL, real redis-server.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { waitFor } from "../../test/wait.ts";
import { codeKey } from "./redis-tier.ts";

let redis: TestRedis;
let h: TestApp;
let userId: number;

beforeAll(async () => {
  redis = await startRedis();
  h = await testApp({ redisUrl: redis.url });
  await waitFor("redis connection", () => h.deps.redis!.up, 20_000);
  const user = await h.request("POST", "/users", { body: { username: "planted", email: "planted@example.com" } });
  userId = user.json.id;
}, 30_000);
afterAll(async () => {
  await h?.close();
  await redis?.stop();
}, 30_000);

async function link(target: string): Promise<{ code: string; id: number }> {
  const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: target } });
  expect(res.status, show(res)).toBe(201);
  return { code: res.json.short_code, id: res.json.id };
}

async function rejectedCount(): Promise<number> {
  const text = (await h.request("GET", "/metrics", { key: null })).text;
  const line = text.split("\n").find((l) => l.startsWith("linkfort_cache_redis_rejected_total"));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("values planted in the Redis tier", () => {
  // `%id` stands for the link's own id, so only the URL (or the shape) is wrong.
  const hostile = [
    "f%id javascript:alert(document.cookie)",
    "f%id data:text/html,<script>alert(1)</script>",
    "f%id JavaScript://example.com/%0Aalert(1)",
    "f%id file:///etc/passwd",
    "f%id //evil.example/",
    "f%id http://",
    "f%id https://evil.example/ spaced",
    "f%id https://evil.example/\r\nSet-Cookie: a=b",
    "f%id https://evil.example/ä",
    "f1e3 https://evil.example/",
    "f-1 https://evil.example/",
    "f%id  https://evil.example/",
    "f0%id https://evil.example/",
    "f%id",
    // Links with options (redirect/model.ts): the same checks, and options only as encode writes them.
    "o%id 5 - q javascript:alert(1)",
    "o%id - - q //evil.example/",
    "o%id - - - https://evil.example/",
    "o%id - 0 - https://evil.example/",
    "o%id soon - - https://evil.example/",
    "o%id 5 - q https://evil.example/\r\nSet-Cookie: a=b",
    "mm",
    "i ",
    "",
  ];

  for (const planted of hostile) {
    test(`${JSON.stringify(planted)} is a miss: PostgreSQL answers, the key is deleted, the rejection counted`, async () => {
      const target = `https://good.example/${crypto.randomUUID().slice(0, 8)}`;
      const { code, id } = await link(target);
      const value = planted.replaceAll("%id", String(id));
      await h.deps.redis!.command.set(codeKey(code), value); // no TTL: it would stay for ever
      const before = await rejectedCount();

      const res = await h.request("GET", `/${code}`, { key: null });
      expect(res.status, show(res)).toBe(302);
      expect(res.headers.get("location")).toBe(target);
      expect(res.headers.get("x-cache")).toBe("db");
      expect(await rejectedCount()).toBe(before + 1);
      // Gone, and replaced by the fill with what linkfort writes (or nothing yet).
      await waitFor("the planted value replaced", async () => (await h.deps.redis!.command.get(codeKey(code))) !== value, 5_000);
      const now = await h.deps.redis!.command.get(codeKey(code));
      expect(now === null || now === `f${id} ${target}`).toBe(true);
    });
  }

  test("a value linkfort wrote is still a Redis hit", async () => {
    const target = `https://good.example/${crypto.randomUUID().slice(0, 8)}?q=1#x`;
    const { code, id } = await link(target);
    await h.deps.redis!.command.set(codeKey(code), `f${id} ${target}`);
    const before = await rejectedCount();
    const res = await h.request("GET", `/${code}`, { key: null });
    expect(res.status, show(res)).toBe(302);
    expect(res.headers.get("location")).toBe(target);
    expect(res.headers.get("x-cache")).toBe("redis");
    expect(await rejectedCount()).toBe(before);
  });

  test("a value with options linkfort wrote is a Redis hit too", async () => {
    const target = `https://good.example/${crypto.randomUUID().slice(0, 8)}`;
    const { code, id } = await link(target);
    await h.deps.redis!.command.set(codeKey(code), `o${id} 4102444800000 - - ${target}`);
    const before = await rejectedCount();
    const res = await h.request("GET", `/${code}`, { key: null });
    expect(res.status, show(res)).toBe(302);
    expect(res.headers.get("location")).toBe(target);
    expect(res.headers.get("x-cache")).toBe("redis");
    expect(await rejectedCount()).toBe(before);
  });
});
