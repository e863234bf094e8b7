/**
 * Redirect misses while the primary has lost power (frozen: no FIN, no RST), on a cluster URL:
 * the lookup asks the standby too (redirect/hedged-resolve.ts) and answers 302 from it long
 * before the response timeout would have failed it with a 503. The standby's answer is taken
 * only when it is a found link with no click cap: a link the standby has not replayed yet is a
 * 503 (the primary might know better), never a 404; a capped link stays a 503 until a primary
 * can count its clicks.
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
const instances: { deps: Deps; app: App; base: string }[] = [];

async function call(index: number, method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${instances[index]!.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: "manual" });
  const text = await res.text();
  let json: any;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, text, json, location: res.headers.get("location"), cache: res.headers.get("x-cache") };
}

async function onStandby(statement: string): Promise<void> {
  const sql = postgres(pair.standbyUrl(DB), { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql.unsafe(statement);
  } finally {
    await sql.end();
  }
}

const standbyFound = async (deps: Deps) =>
  (await deps.metrics.redirectStandbyReads.get()).values.find((v) => v.labels.result === "found")?.value ?? 0;

beforeAll(async () => {
  pair = await startPrimaryAndStandby({ synchronous: true });
  key = await createServiceDatabase(pair, DB);
  for (const port of [18221, 18222]) {
    // Production's response timeout (7 s): the standby must answer well before it.
    instances.push(serveInstance(pair.clusterUrl(DB), port));
  }
  await waitFor("both instances listening for invalidations", () => instances.every((i) => i.deps.cache.trusted && i.deps.cache.codes.ready), 30_000);
}, 180_000);

afterAll(async () => {
  for (const i of instances) {
    await i.app.stop(true);
    await i.deps.close();
  }
  await pair?.stop();
}, 60_000);

test("a frozen primary: uncached redirects answer 302 from the standby; unreplayed or capped links 503, never 404; after promote all redirect", async () => {
  const user = await call(0, "POST", "/users", { username: "standby", email: "standby@example.com" });
  expect(user.status, user.text).toBe(201);
  const create = async (original_url: string, extra: Record<string, unknown> = {}) => {
    const res = await call(0, "POST", "/urls", { user_id: user.json.id, original_url, ...extra });
    expect(res.status, res.text).toBe(201);
    return res.json.short_code as string;
  };
  const plain = await create("https://plain.example/");
  const capped = await create("https://capped.example/", { max_clicks: 5 });
  await pair.waitReplayed();
  const justBefore = await create("https://just-before.example/");
  // Replay stops: the next link is acknowledged (flushed on the standby) but not visible there.
  await onStandby("select pg_wal_replay_pause()");
  const unreplayed = await create("https://unreplayed.example/");

  pair.freezePrimary();
  // Instance 1 never looked these codes up: every answer below is a miss of its LRU.
  const started = performance.now();
  const first = await call(1, "GET", `/${plain}`);
  console.log(`standby reads: first uncached redirect after the freeze answered in ${Math.round(performance.now() - started)} ms (indicative; response timeout 7000 ms)`);
  expect([first.status, first.location, first.cache]).toEqual([302, "https://plain.example/", "db"]);
  expect(await standbyFound(instances[1]!.deps)).toBeGreaterThanOrEqual(1);
  // Not cached: the next one is the standby's answer again, not the LRU's.
  const again = await call(1, "GET", `/${plain}`);
  expect([again.status, again.location, again.cache]).toEqual([302, "https://plain.example/", "db"]);

  const cappedAnswer = await call(1, "GET", `/${capped}`);
  expect(cappedAnswer.status, cappedAnswer.text).toBe(503);
  const missingOnStandby = await call(1, "GET", `/${unreplayed}`);
  expect(missingOnStandby.status, missingOnStandby.text).toBe(503);
  const unknown = await call(1, "GET", "/nosuchcode9");
  // 404 only from the set of live codes (X-Cache: lru), never from the standby's "not found".
  if (unknown.status === 404) expect(unknown.cache).toBe("lru");
  else expect(unknown.status, unknown.text).toBe(503);

  await onStandby("select pg_wal_replay_resume()");
  for (const [code, location] of [[unreplayed, "https://unreplayed.example/"], [justBefore, "https://just-before.example/"]] as const) {
    await waitFor(`${code} to redirect from the standby`, async () => {
      const res = await call(1, "GET", `/${code}`);
      expect([302, 503], `${res.status} ${res.text}`).toContain(res.status);
      if (res.status === 302) expect(res.location).toBe(location);
      return res.status === 302;
    }, 60_000, { everyMs: 100 });
  }

  await pair.promote();
  await waitFor("the capped link to redirect once a primary counts its clicks", async () => {
    const res = await call(1, "GET", `/${capped}`);
    expect([302, 503], `${res.status} ${res.text}`).toContain(res.status);
    if (res.status === 302) expect(res.location).toBe("https://capped.example/");
    return res.status === 302;
  }, 60_000, { everyMs: 100 });
  const after = await waitFor("a write on the promoted standby", async () => {
    const res = await call(0, "POST", "/urls", { user_id: user.json.id, original_url: "https://after.example/" });
    expect(res.status, res.text).not.toBe(500);
    return res.status === 201 ? (res.json.short_code as string) : undefined;
  }, 60_000, { everyMs: 100 });
  const seen = await call(1, "GET", `/${after}`);
  expect([seen.status, seen.location]).toEqual([302, "https://after.example/"]);
}, 300_000);
