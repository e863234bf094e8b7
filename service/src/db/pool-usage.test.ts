/**
 * The pool gauges on /metrics against a real PostgreSQL: queries held busy by an advisory lock
 * that another client holds, then every connection reserved with queries queued behind them.
 * They read postgres.js's private queues through deploy/patch-postgres.ts: a postgres.js that
 * no longer takes that patch, or moves its queues, fails here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { testApp, type TestApp } from "../../test/harness.ts";
import { waitFor } from "../../test/wait.ts";
import { poolUsage } from "./pool-usage.ts";

const POOL_MAX = 4;
const LOCK = 0x11f0_00ff;
let h: TestApp;

/** The pool gauges and the server-side connection gauge of one scrape. */
async function scrape(): Promise<{ inUse?: number; waiting?: number; serverView: boolean }> {
  // A deadline, so a scrape held up behind the saturated pool fails as such (not as the test's timeout).
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error("/metrics did not answer within 5 s")), 5_000); });
  const res = await Promise.race([h.request("GET", "/metrics", { key: null }), deadline]).finally(() => clearTimeout(timer));
  expect(res.status).toBe(200);
  const value = (name: string) => {
    const m = new RegExp(`^${name} (\\d+)$`, "m").exec(res.text);
    return m ? Number(m[1]) : undefined;
  };
  return { inUse: value("linkfort_db_pool_in_use_connections"), waiting: value("linkfort_db_pool_waiting_requests"), serverView: /^linkfort_db_connections\{/m.test(res.text) };
}

/** Scrapes until the gauges read `inUse` and `waiting` (background jobs may hold one for a moment). */
const gaugesAt = (inUse: number, waiting: number) =>
  waitFor(`in use ${inUse}, waiting ${waiting} on /metrics`, async () => {
    const s = await scrape();
    return s.inUse === inUse && s.waiting === waiting ? s : undefined;
  }, 15_000);

beforeAll(async () => {
  // The click shipper runs a transaction every round; a long round keeps it out of the counts.
  h = await testApp({ dbPoolMax: POOL_MAX, clickShipMs: 600_000 });
}, 60_000);
afterAll(async () => { await h?.close(); }, 30_000);

describe("database pool gauges", () => {
  test("the pool's counts are readable (node_modules carries the patch)", () => {
    expect(poolUsage(h.deps.sql)).toMatchObject({ busy: expect.any(Number), waiting: expect.any(Number) });
  });

  test("queries held busy count as in use, then the pool is back to 0", async () => {
    await gaugesAt(0, 0);
    const holder = postgres(h.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await holder`select pg_advisory_lock(${LOCK})`;
      const held = [1, 2, 3].map(() => h.deps.sql`select pg_advisory_xact_lock(${LOCK}) as locked`.then(() => "done"));
      const busy = await gaugesAt(3, 0);
      // One connection is still free: the scrape also asked the server for its view.
      expect(busy.serverView).toBe(true);
      await holder`select pg_advisory_unlock(${LOCK})`;
      expect(await Promise.all(held)).toEqual(["done", "done", "done"]);
      await gaugesAt(0, 0);
    } finally {
      await holder.end();
    }
  }, 40_000);

  test("reserved connections are in use, queries beyond the pool wait, and the scrape still answers", async () => {
    await gaugesAt(0, 0);
    const reserved = await Promise.all(Array.from({ length: POOL_MAX }, () => h.deps.sql.reserve()));
    try {
      const queued = [1, 2].map(() => h.deps.sql<{ n: number }[]>`select 1 as n`.then((rows) => rows[0]?.n));
      const saturated = await gaugesAt(POOL_MAX, 2);
      // Every connection in use: the pg_stat_activity query would wait with the others, so it is skipped.
      expect(saturated.serverView).toBe(false);
      for (const conn of reserved) conn.release();
      expect(await Promise.all(queued)).toEqual([1, 1]);
      await gaugesAt(0, 0);
    } finally {
      for (const conn of reserved) conn.release();
    }
  }, 40_000);
});
