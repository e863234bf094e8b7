/**
 * A click batch and a DELETE of its link (or of the link's user) take their locks in the same
 * order, so they queue instead of deadlocking; and a deadlock that happens anyway (any other
 * collision of writers) answers 503 with Retry-After, never 500. Real PostgreSQL, real locks.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import type { Sql } from "../db/client.ts";
import { fromPostgres } from "../http/error-handler.ts";
import { testApp, type TestApp } from "../../test/harness.ts";
import { createClicksRepo } from "./repo.ts";
import type { Click } from "./model.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

async function link(n: number): Promise<{ userId: number; urlId: number }> {
  const user = await h.request("POST", "/users", { body: { username: `lock${n}`, email: `lock${n}@example.com` } });
  const url = await h.request("POST", "/urls", { body: { user_id: user.json.id, original_url: `https://lock.example/${n}` } });
  return { userId: user.json.id, urlId: url.json.id };
}

const clicksFor = (urlId: number, n: number): Click[] =>
  Array.from({ length: n }, () => ({ id: crypto.randomUUID(), urlId, shortCode: "x", at: new Date() }));

/** Runs a click batch in a transaction that stays open until `release` resolves. */
function heldBatch(urlId: number, release: Promise<void>) {
  const repo = createClicksRepo(h.deps.sql);
  let inserted!: () => void;
  const insertedNow = new Promise<void>((resolve) => { inserted = resolve; });
  const done = h.deps.sql.begin(async (tx) => {
    const written = await repo.insertBatch(clicksFor(urlId, 5), tx as unknown as Sql);
    inserted();
    await release;
    return written;
  });
  return { insertedNow, done };
}

describe("click batches and deletes", () => {
  for (const what of ["link", "user"] as const) {
    test(`a DELETE of the ${what} waits for a click batch holding its link, then succeeds`, async () => {
      const { userId, urlId } = await link(what === "link" ? 1 : 2);
      let release!: () => void;
      const batch = heldBatch(urlId, new Promise<void>((resolve) => { release = resolve; }));
      await batch.insertedNow;
      const path = what === "link" ? `/urls/${urlId}` : `/users/${userId}`;
      const deleting = h.request("DELETE", path);
      // The delete is queued behind the batch's FOR KEY SHARE, not refused and not deadlocked: a
      // window that proves it has not answered (it cannot, while the batch holds the lock).
      const first = await Promise.race([deleting.then(() => "answered"), Bun.sleep(300).then(() => "waiting")]);
      release();
      expect(await batch.done).toBe(5);
      const res = await deleting;
      expect([first, res.status]).toEqual(["waiting", 204]);
      const [left] = await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where url_id = ${urlId}`;
      expect(left!.n).toBe(0);
    }, 30_000);
  }

  test("a real deadlock maps to 503 with Retry-After, not to 500", async () => {
    const a = postgres(h.databaseUrl, { max: 1, onnotice: () => {} });
    const b = postgres(h.databaseUrl, { max: 1, onnotice: () => {} });
    const { urlId: one } = await link(3);
    const { urlId: two } = await link(4);
    try {
      let aHolds!: () => void;
      let bHolds!: () => void;
      const aLocked = new Promise<void>((resolve) => { aHolds = resolve; });
      const bLocked = new Promise<void>((resolve) => { bHolds = resolve; });
      const cross = (conn: postgres.Sql, first: number, second: number, holds: () => void, other: Promise<void>) =>
        conn.begin(async (tx) => {
          await tx`select 1 from urls where id = ${first} for update`;
          holds();
          await other;
          await tx`select 1 from urls where id = ${second} for update`;
        });
      const results = await Promise.allSettled([cross(a, one, two, aHolds, bLocked), cross(b, two, one, bHolds, aLocked)]);
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(failed).toHaveLength(1);
      expect((failed[0]!.reason as { code?: string }).code).toBe("40P01");
      expect(fromPostgres(failed[0]!.reason)).toMatchObject({ status: 503, headers: { "Retry-After": "1" } });
    } finally {
      await a.end();
      await b.end();
    }
  }, 30_000);
});
