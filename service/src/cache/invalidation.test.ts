/**
 * Two instances on one database and one real redis-server: a write through either one is seen
 * by the other at once (pub/sub), though both had the code in their LRU.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp, type App } from "../app.ts";
import { testConfig } from "../config.ts";
import { buildDeps, type Deps } from "../deps.ts";
import { silentLogger } from "../lib/logger.ts";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { INVALIDATE_CHANNEL } from "./invalidation.ts";

let redis: TestRedis;
let a: TestApp;
let bDeps: Deps;
let bApp: App;

const follow = async (app: App, code: string) => (await app.handle(new Request(`http://localhost/${code}`))).status;
const followA = (code: string) => follow(a.app, code);
const followB = (code: string) => follow(bApp, code);

/** Polls for at most 1 s (pub/sub delivery); returns the last value seen. */
async function within1s<T>(probe: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = performance.now() + 1_000;
  for (;;) {
    const value = await probe();
    if (done(value) || performance.now() > deadline) return value;
    await Bun.sleep(10);
  }
}

beforeAll(async () => {
  redis = await startRedis();
  a = await testApp({ redisUrl: redis.url });
  bDeps = buildDeps(testConfig({ redisUrl: redis.url }), silentLogger, a.databaseUrl);
  bDeps.health.markReady();
  bApp = createApp(bDeps);
  // Both instances must be subscribed before a write, or the test would race the SUBSCRIBE.
  const subscribers = async () => {
    const reply = (await a.deps.redis!.command.pubsub("NUMSUB", INVALIDATE_CHANNEL)) as [string, number];
    return Number(reply[1]);
  };
  const n = await within1s(() => subscribers().catch(() => 0), (v) => v >= 2);
  if (n < 2) throw new Error(`only ${n} instances subscribed to ${INVALIDATE_CHANNEL}`);
}, 30_000);
afterAll(async () => {
  await bDeps.close();
  await a.close();
  await redis.stop();
}, 30_000);

async function userWithLinks(name: string, count: number) {
  const user = await a.request("POST", "/users", { body: { username: name, email: `${name}@example.com` } });
  expect(user.status, show(user)).toBe(201);
  const links: { id: number; short_code: string }[] = [];
  for (let i = 0; i < count; i++) {
    const res = await a.request("POST", "/urls", { body: { user_id: user.json.id, original_url: `https://${name}.example/${i}` } });
    expect(res.status, show(res)).toBe(201);
    links.push(res.json);
  }
  return { userId: user.json.id as number, links };
}

/** Both instances answer 302 twice, so the second answer of each came from its LRU. */
async function warm(code: string) {
  for (const app of [a.app, bApp]) {
    expect(await follow(app, code)).toBe(302);
    expect(await follow(app, code)).toBe(302);
  }
  expect((await a.deps.cache.resolveWithSource(code)).source).toBe("lru");
  expect((await bDeps.cache.resolveWithSource(code)).source).toBe("lru");
}

describe("invalidation across two instances", () => {
  test("deactivating a link through one instance makes the other answer 410 at once", async () => {
    const { links: [link] } = await userWithLinks("deact", 1);
    await warm(link!.short_code);
    const put = await a.request("PUT", `/urls/${link!.id}`, { body: { is_active: false } });
    expect(put.status, show(put)).toBe(200);
    expect(await followA(link!.short_code)).toBe(410); // the writer drops its own entry directly
    expect(await within1s(() => followB(link!.short_code), (s) => s === 410)).toBe(410);

    // And back: re-activating through the other instance reaches the first one.
    const back = await bApp.handle(new Request(`http://localhost/urls/${link!.id}`, {
      method: "PUT", body: JSON.stringify({ is_active: true }),
      headers: { authorization: `Bearer ${a.adminKey}`, "content-type": "application/json" },
    }));
    expect(back.status, await back.text()).toBe(200);
    expect(await followB(link!.short_code)).toBe(302);
    expect(await within1s(() => followA(link!.short_code), (s) => s === 302)).toBe(302);
  });

  test("deleting a link through one instance makes both answer 404", async () => {
    const { links: [link] } = await userWithLinks("del", 1);
    await warm(link!.short_code);
    const del = await a.request("DELETE", `/urls/${link!.id}`);
    expect(del.status, show(del)).toBe(204);
    expect(await followA(link!.short_code)).toBe(404);
    expect(await within1s(() => followB(link!.short_code), (s) => s === 404)).toBe(404);
  });

  test("deleting a user makes every link of theirs 404 on both instances", async () => {
    const { userId, links } = await userWithLinks("gone", 3);
    for (const link of links) await warm(link.short_code);
    const del = await a.request("DELETE", `/users/${userId}`);
    expect(del.status, show(del)).toBe(204);
    for (const link of links) {
      expect(await followA(link.short_code)).toBe(404);
      expect(await within1s(() => followB(link.short_code), (s) => s === 404)).toBe(404);
    }
  });

  test("a write also drops the shared Redis entry, so a third reader goes to PostgreSQL", async () => {
    const { links: [link] } = await userWithLinks("shared", 1);
    await warm(link!.short_code);
    expect(await a.deps.redis!.command.get(`lf:code:${link!.short_code}`)).toStartWith("f");
    const put = await a.request("PUT", `/urls/${link!.id}`, { body: { original_url: "https://shared.example/new" } });
    expect(put.status, show(put)).toBe(200);
    const key = await within1s(() => a.deps.redis!.command.get(`lf:code:${link!.short_code}`), (v) => v === null);
    expect(key).toBeNull();
    const res = await a.app.handle(new Request(`http://localhost/${link!.short_code}`));
    expect(res.headers.get("location")).toBe("https://shared.example/new");
  });
});
