/**
 * The primary's host stops answering without closing anything (powered off, network cut: no FIN,
 * no RST), then the standby is promoted. Unlike a killed process, nothing tells the instances:
 * the response timeout finds out on the pool, the follower's search then closes every connection
 * to the old primary, the idle LISTEN connection included, and the instances write and hear
 * invalidations on the new primary without a restart.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import type { App } from "../src/app.ts";
import type { Deps } from "../src/deps.ts";
import { serveInstance } from "./instances.ts";
import { createServiceDatabase, startPrimaryAndStandby, type PgPair } from "./pg-standby.ts";
import { waitFor } from "./wait.ts";

const DB = "linkfort";
let pair: PgPair;
let key: string;
const instances: { deps: Deps; app: App; base: string; port: number }[] = [];

async function call(index: number, method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${instances[index]!.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: "manual" });
  const text = await res.text();
  let json: any;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, text, json, location: res.headers.get("location"), retryAfter: res.headers.get("retry-after"), cache: res.headers.get("x-cache") };
}

beforeAll(async () => {
  pair = await startPrimaryAndStandby({ synchronous: true });
  key = await createServiceDatabase(pair, DB);
  for (const [port, order] of [[18211, ["standby", "primary"]], [18212, ["primary", "standby"]]] as const) {
    // Short deadlines so the test is quick; production's defaults are 5 s and 7 s.
    instances.push(serveInstance(pair.clusterUrl(DB, [...order]), port, { dbStatementTimeoutMs: 500, dbResponseTimeoutMs: 1_500 }));
  }
  await waitFor("both instances listening for invalidations", () => instances.every((i) => i.deps.cache.trusted), 20_000);
}, 180_000);

afterAll(async () => {
  for (const i of instances) {
    await i.app.stop(true);
    await i.deps.close();
  }
  await pair?.stop();
}, 60_000);

test("a frozen primary: writes answer 503, cached redirects 302; after promote both instances write and hear invalidations again", async () => {
  const user = await call(0, "POST", "/users", { username: "frozen", email: "frozen@example.com" });
  expect(user.status, user.text).toBe(201);
  const link = await call(0, "POST", "/urls", { user_id: user.json.id, original_url: "https://before.example/" });
  expect(link.status, link.text).toBe(201);
  const code: string = link.json.short_code;
  await waitFor("instance 1 to cache the link", async () => (await call(1, "GET", `/${code}`)).cache === "lru", 10_000);

  pair.freezePrimary();
  const refused = await waitFor("a write to be refused", async () => {
    const res = await call(0, "POST", "/urls", { user_id: user.json.id, original_url: "https://during.example/" });
    expect(res.status, res.text).not.toBe(500);
    return res.status === 503 ? res : undefined;
  }, 60_000, { everyMs: 50 });
  expect(refused.json).toMatchObject({ error: "Service Unavailable" });
  expect(refused.retryAfter).toMatch(/^\d+$/);
  const cached = await call(1, "GET", `/${code}`);
  expect([cached.status, cached.location]).toEqual([302, "https://before.example/"]);

  await pair.promote();
  const promotedAt = performance.now();
  const written = await waitFor("a write to succeed on the promoted standby", async () => {
    const res = await call(0, "POST", "/urls", { user_id: user.json.id, original_url: "https://after.example/" });
    expect(res.status, res.text).not.toBe(500);
    return res.status === 201 ? performance.now() : undefined;
  }, 60_000, { everyMs: 50 });
  console.log(`frozen primary: first acknowledged write ${Math.round(written - promotedAt)} ms after the promotion finished`);

  // Both LISTEN connections left the frozen primary for the promoted one.
  const promoted = postgres(pair.standbyUrl(DB), { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await waitFor("both instances listening on the promoted standby", async () => {
      const rows = await promoted<{ name: string }[]>`select application_name as name from pg_stat_activity where application_name like 'linkfort-listen:%'`;
      return instances.every((i) => rows.some((r) => r.name === `linkfort-listen:${i.port}`));
    }, 60_000, { everyMs: 100 });
  } finally {
    await promoted.end();
  }
  await waitFor("both instances trusting their cache again", () => instances.every((i) => i.deps.cache.trusted), 30_000);
  await waitFor("instance 1 to cache the link again", async () => (await call(1, "GET", `/${code}`)).cache === "lru", 10_000);
  const edited = await call(0, "PUT", `/urls/${link.json.id}`, { original_url: "https://edited.example/" });
  expect(edited.status, edited.text).toBe(200);
  const seen = await call(1, "GET", `/${code}`);
  expect([seen.status, seen.location]).toEqual([302, "https://edited.example/"]);
}, 240_000);
