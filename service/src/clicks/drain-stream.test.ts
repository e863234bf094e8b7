import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { drainStream } from "./drain-stream.ts";
import { createClicksRepo } from "./repo.ts";
import { parseStreamEntry } from "./stream-entry.ts";

// A Redis click stream as the release before the spool left it: entries in both of its formats,
// one entry that is no click, and a consumer group.
let redis: TestRedis;
let client: Redis;
let h: TestApp;
let urlId: number;
beforeAll(async () => {
  [redis, h] = await Promise.all([startRedis(), testApp()]);
  client = new Redis(redis.url);
  const userId = (await h.request("POST", "/users", { body: { username: "drain", email: "drain@example.com" } })).json.id;
  urlId = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://drain.example/" } })).json.id;
}, 30_000);
afterAll(async () => { client.disconnect(); await h.close(); await redis.stop(); }, 30_000);

const clickedAgents = async () =>
  (await h.deps.sql<{ ua: string }[]>`select details->>'user_agent' as ua from events where event_type = 'clicked' and url_id = ${urlId}`).map((r) => r.ua).sort();

describe("linkfort clicks drain-stream", () => {
  test("writes every click left in the stream once, even after a drain that stopped half way, and deletes the stream", async () => {
    const key = "t:drain";
    const ids = Array.from({ length: 7 }, () => Bun.randomUUIDv7());
    for (const [i, id] of ids.entries()) {
      const fields = i % 2 === 0
        ? ["k", JSON.stringify([id, urlId, "code", 1_700_000_000_000 + i, null, `ua-${i}`, "10.0.0.1"])]
        : ["id", id, "u", String(urlId), "c", "code", "t", String(1_700_000_000_000 + i), "a", `ua-${i}`];
      await client.xadd(key, "*", ...fields);
    }
    await client.xadd(key, "*", "not-a-click", "1");
    await client.call("XGROUP", "CREATE", key, "linkfort", "0");

    // The first drain wrote three clicks, then died before it deleted their entries.
    const first = (await client.xrange(key, "-", "+", "COUNT", 3)).map(([, fields]) => parseStreamEntry(fields)!);
    expect(await createClicksRepo(h.deps.sql).insertOnce(first)).toBe(3);

    const result = await drainStream({ redis: client, repo: createClicksRepo(h.deps.sql), key, batch: 3 });
    expect(result).toEqual({ read: 8, written: 4, unreadable: 1 });
    expect(await clickedAgents()).toEqual(ids.map((_, i) => `ua-${i}`).sort());
    expect(await client.exists(key)).toBe(0);
    expect(await drainStream({ redis: client, repo: createClicksRepo(h.deps.sql), key })).toEqual({ read: 0, written: 0, unreadable: 0 });
  });

  test("a key that holds something other than a stream is left alone", async () => {
    await client.set("t:not-a-stream", "x");
    await expect(drainStream({ redis: client, repo: createClicksRepo(h.deps.sql), key: "t:not-a-stream" })).rejects.toThrow(/WRONGTYPE/);
    expect(await client.get("t:not-a-stream")).toBe("x");
  });
});
