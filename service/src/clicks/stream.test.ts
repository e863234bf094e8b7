import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";

// The whole app with REDIS_URL: redirects XADD, the app's own consumer writes.
let h: TestApp;
let redis: TestRedis;
let urlId: number;
let code: string;
const KEY = "lf:clicks";

beforeAll(async () => {
  redis = await startRedis();
  h = await testApp({ redisUrl: redis.url, clickStreamBlockMs: 50, clickStreamClaimIdleMs: 1_000 });
  await until(async () => h.deps.redis!.up || undefined);
  const userId = (await h.request("POST", "/users", { body: { username: "strm", email: "strm@example.com" } })).json.id;
  const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://stream.example/" } })).json;
  urlId = url.id;
  code = url.short_code;
}, 30_000);
afterAll(async () => {
  await h.close();
  await redis.stop();
}, 30_000);

/** Polls until the probe returns something; gives up after 10 s so a bug fails instead of hanging. */
async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not reached in 10 s");
    await Bun.sleep(20);
  }
}

const clicked = async () =>
  (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where url_id = ${urlId} and event_type = 'clicked'`)[0]!.n;
const counter = async (name: "clicksFallback" | "clickStreamAcked" | "clickStreamTrimmed") =>
  (await h.deps.metrics[name].get()).values.reduce((sum, v) => sum + v.value, 0);
/** Entries ever added to the stream (XINFO STREAM entries-added): XLEN drops as acked entries are trimmed. */
async function entriesAdded(): Promise<number> {
  const info = (await h.deps.redis!.command.call("XINFO", "STREAM", KEY)) as unknown[];
  return Number(info[info.indexOf("entries-added") + 1]);
}
const streamLength = () => h.deps.redis!.command.xlen(KEY);
const pending = async () => Number(((await h.deps.redis!.command.call("XPENDING", KEY, "linkfort")) as unknown[])[0]);

async function redirect(times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const res = await h.request("GET", `/${code}`, { key: null, headers: { referer: "https://news.example/a", "user-agent": "Mozilla/5.0 Firefox/120.0" } });
    expect(res.status, show(res)).toBe(302);
  }
}

describe("clicks through the Redis stream", () => {
  test("N redirects become N clicked events through the stream, all acked", async () => {
    await redirect(20);
    expect(await entriesAdded()).toBe(20);
    await until(async () => ((await clicked()) === 20 ? true : undefined));
    await until(async () => ((await pending()) === 0 && (await counter("clickStreamAcked")) === 20 ? true : undefined));
    expect(await counter("clicksFallback")).toBe(0);
    // Written and acked: the app's consumer loop deletes them from the stream within a second.
    await until(async () => ((await streamLength()) === 0 ? true : undefined));
    expect(await counter("clickStreamTrimmed")).toBe(20);
    const [event] = await h.deps.sql`select details from events where url_id = ${urlId} and event_type = 'clicked' limit 1`;
    expect(event?.details).toEqual({ short_code: code, referrer: "https://news.example/a", user_agent: "Mozilla/5.0 Firefox/120.0", client_ip: "127.0.0.1" });
  });

  test("with Redis down, redirects still 302 and clicks take the fallback into PostgreSQL; once it is back the stream resumes", async () => {
    await redis.stop();
    await until(async () => (h.deps.redis!.up ? undefined : true));
    await redirect(7);
    expect(await counter("clicksFallback")).toBe(7);
    await h.deps.clicks.flushNow();
    expect(await clicked()).toBe(27);

    await redis.start(); // empty: the stream and its group are gone with the old process
    await until(async () => h.deps.redis!.up || undefined);
    await redirect(5);
    expect(await counter("clicksFallback")).toBe(7);
    expect(await entriesAdded()).toBe(5);
    await until(async () => ((await clicked()) === 32 ? true : undefined));
    await until(async () => ((await pending()) === 0 ? true : undefined));

    // Both paths maintain the rollups: the stats agree with the events.
    const stats = await h.request("GET", `/urls/${urlId}/stats`);
    expect(stats.status, show(stats)).toBe(200);
    expect(stats.json.total_clicks).toBe(32);
    expect(stats.json.top_referrers).toEqual([{ referrer: "news.example", clicks: 32 }]);
    expect(stats.json.top_user_agents).toEqual([{ user_agent: "firefox", clicks: 32 }]);
  });
});
