/**
 * Redis killed with SIGKILL and restarted empty under steady redirect load (the VM stack: Redis
 * configured for the shared cache tier and the rate limits). Clicks never touch Redis, so no
 * redirect may fail and every 302 answered must become exactly one clicked event once the spools
 * have shipped. Two compiled instances on one database with a spool root each, as on a VM; the
 * LRU holds one code, so most redirects go through the Redis tier (and, while it is gone, to
 * PostgreSQL), and the limiter runs for every redirect (loopback is not exempt here).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { buildBinary, startBinary, type RunningBinary } from "../../test/binary.ts";
import { createDatabase, dropDatabase } from "../../test/pg.ts";
import { failFastClient, startRedis, waitReady, type TestRedis } from "../../test/redis.ts";
import { waitFor } from "../../test/wait.ts";

const CODES = 20;
const CONCURRENCY = 16;
/** Redirects answered before the kill, with Redis down, and after it is back: a few seconds in all. */
const PHASE = 1_500;

let bin: string;
let db: { name: string; url: string };
let redis: TestRedis;
let root: string;
const running: RunningBinary[] = [];

beforeAll(async () => {
  [bin, db, redis] = await Promise.all([buildBinary(), createDatabase({ unmigrated: true }), startRedis()]);
  root = mkdtempSync(join(tmpdir(), "linkfort-redis-kill-spool-"));
}, 120_000);
afterAll(async () => {
  for (const b of running) await b.stop("SIGKILL");
  await redis.stop();
  await dropDatabase(db.name);
  rmSync(root, { recursive: true, force: true });
}, 30_000);

async function start(): Promise<RunningBinary> {
  const b = await startBinary(bin, {
    DATABASE_URL: db.url, REDIS_URL: redis.url, CLICK_SPOOL_DIR: root, CLICK_SHIP_MS: "50", SHUTDOWN_DRAIN_MS: "0",
    CACHE_MAX_ENTRIES: "1", RATE_LIMIT_EXEMPT: "192.0.2.1", RATE_LIMIT_REDIRECTS: "1000000",
  });
  running.push(b);
  await b.waitFor(/"msg":"listening"/);
  return b;
}

interface Health { redis: string; click_spool: { unshipped_clicks: number | null } }
const health = async (b: RunningBinary) => (await (await fetch(`${b.base}/health`)).json()) as Health;

describe("Redis kill -9 and an empty restart under load", () => {
  test("no redirect fails, and every 302 answered is one clicked event after the spools ship", async () => {
    const a = await start();
    const [, key] = await a.waitFor(/^\s+(lf_[A-Za-z0-9]+)\s*$/m);
    const b = await start();
    const instances = [a, b];
    const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    const user = (await (await fetch(`${a.base}/users`, { method: "POST", headers: auth, body: JSON.stringify({ username: "rk", email: "rk@example.com" }) })).json()) as { id: number };
    const codes: string[] = [];
    for (let i = 0; i < CODES; i++) {
      const res = await fetch(`${a.base}/urls`, { method: "POST", headers: auth, body: JSON.stringify({ user_id: user.id, original_url: `https://redis-kill.example/${i}` }) });
      expect(res.status).toBe(201);
      codes.push(((await res.json()) as { short_code: string }).short_code);
    }
    await waitFor("both instances to reach Redis", async () => (await Promise.all(instances.map(health))).every((h) => h.redis === "ok"), 10_000);
    const probe = failFastClient(redis.url);
    await waitReady(probe);
    await probe.set("redis-kill-test:marker", "1");

    let n = 0;
    let loading = true;
    const answered = new Set<string>();
    const failed: string[] = [];
    const worker = async () => {
      while (loading) {
        const i = ++n;
        const agent = `req-${i}`; // the clicked event keeps it, so each 302 can be found
        const target = instances[i % 2]!;
        try {
          const res = await fetch(`${target.base}/${codes[i % CODES]}`, { redirect: "manual", headers: { "user-agent": agent } });
          await res.arrayBuffer();
          if (res.status === 302) answered.add(agent);
          else failed.push(`${agent}: ${res.status}`);
        } catch (error) {
          failed.push(`${agent}: ${String(error)}`);
        }
      }
    };
    const load = Promise.all(Array.from({ length: CONCURRENCY }, worker));
    // Each phase lasts until PHASE more redirects were answered (or one failed).
    const phase = async (what: string) => { const until = answered.size + PHASE; await waitFor(`${PHASE} redirects ${what}`, () => answered.size >= until || failed.length > 0, 20_000); };

    await phase("with Redis up");
    const beforeKill = answered.size;
    expect(await probe.dbsize()).toBeGreaterThan(1); // the tier holds codes and limiter buckets
    await redis.stop(); // SIGKILL: nothing saved (--save "", no AOF)
    await waitFor("both instances to see Redis down", async () => (await Promise.all(instances.map(health))).every((h) => h.redis === "down"), 10_000);
    await phase("with Redis down");
    const duringOutage = answered.size;
    await redis.start(); // same port, empty
    await waitReady(probe);
    expect(await probe.get("redis-kill-test:marker")).toBeNull(); // it came back empty
    await waitFor("both instances to reach Redis again", async () => (await Promise.all(instances.map(health))).every((h) => h.redis === "ok"), 10_000);
    await phase("with Redis back");
    loading = false;
    await load;
    const refilled = await probe.dbsize();
    probe.disconnect();

    await waitFor("both spools shipped", async () => (await Promise.all(instances.map(health))).every((h) => h.click_spool.unshipped_clicks === 0), 30_000);
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const agents = (await sql<{ ua: string }[]>`select details->>'user_agent' as ua from events where event_type = 'clicked'`).map((r) => r.ua);
      const once = new Set(agents);
      const report = `302s ${answered.size} (${beforeKill} before the kill, ${duringOutage - beforeKill} more by the restart), failed ${failed.length}, clicked ${agents.length}; Redis keys after: ${refilled}`;
      console.log(`redis kill -9: ${report}`);
      expect(failed.slice(0, 10), report).toEqual([]);
      expect(duringOutage, report).toBeGreaterThan(beforeKill); // redirects were answered while Redis was gone
      expect(refilled, report).toBeGreaterThan(0); // and the tier filled again after the restart
      expect(once.size, report).toBe(agents.length); // none twice
      expect(agents.length, report).toBe(answered.size);
      expect([...answered].filter((ua) => !once.has(ua)), report).toEqual([]);
    } finally {
      await sql.end();
    }
  }, 90_000);
});
