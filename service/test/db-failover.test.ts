/**
 * The service on a cluster DATABASE_URL (every host, target_session_attrs=read-write), as app
 * VMs run it against Patroni: a real primary and a synchronous hot standby (pg-standby.ts), the
 * standby listed FIRST. Writes land on the primary; when the primary dies, writes answer 503 JSON
 * with Retry-After (never 500, never a hang) and cached redirects keep answering 302; once the
 * standby is promoted the same instances write again without a restart, invalidation reaches the
 * other instance again, every write that was acknowledged is on the new primary, and every
 * redirect answered is a clicked event there (the click spool carries them over the gap).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import type { App } from "../src/app.ts";
import type { Deps } from "../src/deps.ts";
import { serveInstance } from "./instances.ts";
import { createServiceDatabase, startPrimaryAndStandby, type PgPair } from "./pg-standby.ts";
import { settle, waitFor } from "./wait.ts";

const DB = "linkfort";
let pair: PgPair;
let key: string;
const instances: { deps: Deps; app: App; base: string }[] = [];
/** 302s answered per path: each is a click the spool must deliver. */
const redirected = new Map<string, number>();

interface Answer { status: number; headers: Headers; text: string; json: any; location: string | null }

async function call(index: number, method: string, path: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${instances[index]!.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: "manual" });
  const text = await res.text();
  if (method === "GET" && res.status === 302) redirected.set(path, (redirected.get(path) ?? 0) + 1);
  let json: unknown;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json, location: res.headers.get("location") };
}

const session = (url: string) => postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });

beforeAll(async () => {
  pair = await startPrimaryAndStandby({ synchronous: true });
  key = await createServiceDatabase(pair, DB);
  // Instance 0 lists the standby first; instance 1 the primary first (and so follows on its own:
  // one follower per URL in a process, as one per instance in production).
  for (const [port, order] of [[18201, ["standby", "primary"]], [18202, ["primary", "standby"]]] as const) {
    instances.push(serveInstance(pair.clusterUrl(DB, [...order]), port));
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

describe("a cluster DATABASE_URL with the standby listed first", () => {
  let owner: number;

  test("writes land on the primary, and the pool's connections are there", async () => {
    const user = await call(0, "POST", "/users", { username: "failover", email: "failover@example.com" });
    expect(user.status, user.text).toBe(201);
    owner = user.json.id;
    const [where] = await instances[0]!.deps.sql<{ port: number; standby: boolean }[]>`select inet_server_port() as port, pg_is_in_recovery() as standby`;
    expect(where).toEqual({ port: pair.primaryPort, standby: false });
    const primary = session(pair.primaryUrl(DB));
    expect((await primary`select username from users where id = ${owner}`).map((r) => r.username)).toEqual(["failover"]);
    await primary.end();
  }, 30_000);

  test("the primary dies under writes and redirects: 503 + Retry-After, cached 302s, then writes again after promote without a restart", async () => {
    // Cached on both instances before the failure.
    const cached: { code: string; target: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const target = `https://cached-${i}.example/`;
      const res = await call(0, "POST", "/urls", { user_id: owner, original_url: target });
      expect(res.status, res.text).toBe(201);
      cached.push({ code: res.json.short_code, target });
    }
    for (const instance of [0, 1]) {
      for (const { code, target } of cached) {
        await waitFor(`instance ${instance} to cache ${code}`, async () => {
          const r = await call(instance, "GET", `/${code}`);
          return r.status === 302 && r.location === target && r.headers.get("x-cache") === "lru";
        }, 10_000);
      }
    }

    const writes: { at: number; status: number; text: string; retryAfter: string | null; code?: string }[] = [];
    const redirects: { status: number; location: string | null; expected: string }[] = [];
    let running = true;
    let n = 0;
    const writer = async (instance: number) => {
      while (running) {
        const res = await call(instance, "POST", "/urls", { user_id: owner, original_url: `https://load-${n++}.example/` });
        writes.push({ at: performance.now(), status: res.status, text: res.text, retryAfter: res.headers.get("retry-after"), code: res.status === 201 ? res.json.short_code : undefined });
        if (res.status !== 201) await Bun.sleep(20); // a client honouring the 503 a little; keeps the loop from spinning
      }
    };
    const reader = async (instance: number) => {
      for (let i = 0; running; i++) {
        const { code, target } = cached[i % cached.length]!;
        const res = await call(instance, "GET", `/${code}`);
        redirects.push({ status: res.status, location: res.location, expected: target });
        await Bun.sleep(2); // pacing, not waiting: keeps two busy loops from starving the rest of the machine
      }
    };
    const load = [writer(0), writer(1), reader(0), reader(1)];
    try {
      await waitFor("writes to succeed before the failure", () => writes.filter((w) => w.status === 201).length >= 5, 20_000);
      await pair.killPrimary();
      const killedAt = performance.now();
      await waitFor("writes to fail while there is no primary", () => writes.filter((w) => w.at > killedAt && w.status === 503).length >= 5, 30_000);
      const promotedBefore = performance.now();
      await pair.promote();
      const promotedAt = performance.now();
      const firstWrite = await waitFor("a write to succeed on the promoted standby",
        () => writes.find((w) => w.at > promotedAt && w.status === 201), 30_000, { everyMs: 10 });
      console.log(`failover: promote took ${Math.round(promotedAt - promotedBefore)} ms; first acknowledged write ${Math.round(firstWrite.at - promotedAt)} ms after the promotion finished`);
      await waitFor("a few more writes after the promotion", () => writes.filter((w) => w.at > promotedAt && w.status === 201).length >= 10, 30_000);
    } finally {
      running = false;
      await Promise.all(load);
    }

    // Writes: 201 or a fast 503 with Retry-After and the JSON error body; never anything else.
    const other = writes.filter((w) => w.status !== 201 && w.status !== 503);
    expect(other.map((w) => `${w.status} ${w.text.slice(0, 200)}`)).toEqual([]);
    const refused = writes.filter((w) => w.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const w of refused) {
      expect(w.retryAfter).toMatch(/^\d+$/);
      expect(JSON.parse(w.text)).toMatchObject({ error: "Service Unavailable" });
    }
    // Cached redirects answered 302 with their target throughout.
    expect(redirects.filter((r) => r.status !== 302 || r.location !== r.expected)).toEqual([]);
    expect(redirects.length).toBeGreaterThan(0);

    // Every acknowledged write is on the new primary (synchronous replication).
    const acknowledged = writes.flatMap((w) => (w.code ? [w.code] : []));
    const promoted = session(pair.standbyUrl(DB));
    const found = await promoted<{ short_code: string }[]>`select short_code from urls where short_code in ${promoted(acknowledged)}`;
    await promoted.end();
    expect(new Set(found.map((r) => r.short_code))).toEqual(new Set(acknowledged));
    const [where] = await instances[1]!.deps.sql<{ port: number }[]>`select inet_server_port() as port`;
    expect(where?.port).toBe(pair.standbyPort);

    // Every 302, those answered with no primary too, is one clicked event once the spools ship.
    const codes = cached.map((c) => c.code);
    const answered = codes.reduce((sum, code) => sum + (redirected.get(`/${code}`) ?? 0), 0);
    const clicked = async () => {
      const [row] = await instances[0]!.deps.sql<{ n: number }[]>`
        select count(*)::int as n from events e join urls u on u.id = e.url_id where e.event_type = 'clicked' and u.short_code in ${instances[0]!.deps.sql(codes)}`;
      return row?.n ?? 0;
    };
    expect(await settle(clicked, (n) => n >= answered, 30_000, 100)).toBe(answered);
    console.log(`failover: ${writes.length} writes (${refused.length} answered 503), ${redirects.length} cached redirects all 302, ${answered} clicks all delivered, ${acknowledged.length} acknowledged writes all on the new primary`);
  }, 180_000);

  test("after the failover, an edit on one instance reaches the other instance's cache", async () => {
    const made = await call(0, "POST", "/urls", { user_id: owner, original_url: "https://before-edit.example/" });
    expect(made.status, made.text).toBe(201);
    const code: string = made.json.short_code;
    await waitFor("both instances trusting their cache again", () => instances.every((i) => i.deps.cache.trusted), 30_000);
    await waitFor("instance 1 to cache the link", async () => {
      const r = await call(1, "GET", `/${code}`);
      return r.status === 302 && r.headers.get("x-cache") === "lru";
    }, 10_000);
    const edited = await call(0, "PUT", `/urls/${made.json.id}`, { original_url: "https://after-edit.example/" });
    expect(edited.status, edited.text).toBe(200);
    const seen = await call(1, "GET", `/${code}`);
    expect([seen.status, seen.location]).toEqual([302, "https://after-edit.example/"]);
  }, 60_000);
});
