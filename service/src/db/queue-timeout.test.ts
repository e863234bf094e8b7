/**
 * DB_QUEUE_TIMEOUT_MS (deploy/patch-postgres.ts's queue_timeout): a request that finds every
 * connection of the pool taken waits at most that long, is answered 503, and never runs later.
 * The service's own pool (2 connections) is filled by holding both as reserved connections,
 * against a real PostgreSQL; no request here depends on the clock beyond the deadline firing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { waitFor } from "../../test/wait.ts";
import { errorCode } from "./errors.ts";
import { poolUsage } from "./pool-usage.ts";

let h: TestApp;
// Open auth: the write's own insert is the only query the request makes.
beforeAll(async () => { h = await testApp({ auth: "open", dbPoolMax: 2, dbQueueTimeoutMs: 1_000 }); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const waiting = () => poolUsage(h.deps.sql)?.waiting;
const usersNamed = async (name: string) => (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from users where username = ${name}`)[0]?.n;

/** Takes both connections of the pool out of it until `release` is called. */
async function fillPool() {
  const held = [await h.deps.sql.reserve(), await h.deps.sql.reserve()];
  return { release: () => { for (const c of held) c.release(); } };
}

describe("a request waiting for a PostgreSQL connection", () => {
  test("is answered 503 with Retry-After once the queue timeout passes, and its write never commits", async () => {
    const pool = await fillPool();
    let answered: Awaited<ReturnType<TestApp["request"]>>;
    try {
      answered = await h.request("POST", "/users", { body: { username: "queued", email: "queued@example.com" } });
    } finally {
      pool.release();
    }
    expect(answered.status, show(answered)).toBe(503);
    expect(answered.json).toEqual({ error: "Service Unavailable", message: "the database did not answer in time; try again shortly" });
    expect(answered.headers.get("retry-after")).toBe("5");
    // The pool is free again and serves writes in order: a cancelled insert still queued would run before this one.
    const after = await h.request("POST", "/users", { body: { username: "after", email: "after@example.com" } });
    expect(after.status, show(after)).toBe(201);
    await waitFor("the pool's queue to empty", () => waiting() === 0, 10_000);
    expect(await usersNamed("after")).toBe(1);
    expect(await usersNamed("queued")).toBe(0);
  }, 30_000);

  test("a transaction and a reserve() get the same deadline, and the pool serves again after", async () => {
    const pool = await fillPool();
    const outcomes = await Promise.all([
      h.deps.sql.begin((tx) => tx`insert into users (username, email) values ('in_tx', 'in_tx@example.com')`).then(() => "ran", errorCode),
      h.deps.sql.reserve().then((c) => { c.release(); return "reserved"; }, errorCode),
    ]).finally(pool.release);
    expect(outcomes).toEqual(["QUEUE_TIMEOUT", "QUEUE_TIMEOUT"]);
    expect(await usersNamed("in_tx")).toBe(0);
    expect(waiting()).toBe(0);
  }, 30_000);

  test("a query handed a connection before its deadline runs to the end, however long it takes", async () => {
    const pool = await fillPool();
    const slow = h.deps.sql<{ done: string }[]>`select 'done' as done from pg_sleep(1.5)`;
    const result = slow.then((rows) => rows[0]?.done, errorCode);
    try {
      await waitFor("the query to wait in the pool's queue", () => waiting() === 1, 5_000);
    } finally {
      pool.release();
    }
    expect(await result).toBe("done");
  }, 30_000);
});
