/**
 * A table held locked by another session (a migration, an operator's long transaction): requests
 * that need it are answered 503 after DB_LOCK_TIMEOUT_MS with a body naming the lock, instead of
 * queueing behind it up to the statement timeout; cached redirects keep working; the moment the
 * lock goes, requests succeed again. The statement timeout here is a minute, so only lock_timeout
 * can produce the 503 before the hook's deadline.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { show, testApp, type TestApp } from "./harness.ts";

let h: TestApp;
let holder: postgres.Sql;
let userId: number;
let cachedCode: string;
let linkId: number;

beforeAll(async () => {
  h = await testApp({ dbLockTimeoutMs: 200, dbStatementTimeoutMs: 60_000 });
  holder = postgres(h.databaseUrl, { max: 1, onnotice: () => {} });
  userId = (await h.request("POST", "/users", { body: { username: "locked", email: "locked@example.com" } })).json.id;
  const link = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://locked.example/" } })).json;
  linkId = link.id;
  cachedCode = link.short_code;
  expect((await h.request("GET", `/${cachedCode}`)).status).toBe(302);
}, 30_000);

afterAll(async () => {
  await holder.end();
  await h.close();
}, 20_000);

/** Runs `body` while another session holds ACCESS EXCLUSIVE on urls, then commits and lets go. */
async function whileUrlsLocked(body: () => Promise<void>): Promise<void> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  let locked!: () => void;
  const taken = new Promise<void>((resolve) => { locked = resolve; });
  const transaction = holder.begin(async (tx) => {
    await tx`lock table urls in access exclusive mode`;
    locked();
    await released;
  });
  await taken;
  try {
    await body();
  } finally {
    release();
    await transaction;
  }
}

describe("a table locked by another session", () => {
  test("reads and writes that need it answer 503 with Retry-After and a body naming the lock; cached redirects still answer", async () => {
    await whileUrlsLocked(async () => {
      const read = await h.request("GET", `/urls/${linkId}`);
      expect(read.status, show(read)).toBe(503);
      expect(read.json).toEqual({ error: "Service Unavailable", message: expect.stringContaining("locked by another database session") });
      expect(read.headers.get("retry-after")).toBe("1");

      const create = await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://during-lock.example/" } });
      expect(create.status, show(create)).toBe(503);
      expect(create.json.message).toContain("locked");

      const cached = await h.request("GET", `/${cachedCode}`);
      expect(cached.status, show(cached)).toBe(302);
      expect(cached.headers.get("location")).toBe("https://locked.example/");
    });
    const during = await h.deps.sql<{ n: number }[]>`select count(*)::int as n from urls where original_url = 'https://during-lock.example/'`;
    expect(during[0]!.n).toBe(0);
  }, 30_000);

  test("once the lock is released the same requests succeed", async () => {
    const read = await h.request("GET", `/urls/${linkId}`);
    expect(read.status, show(read)).toBe(200);
    expect(read.json.short_code).toBe(cachedCode);
    const create = await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://after-lock.example/" } });
    expect(create.status, show(create)).toBe(201);
    expect(create.json.original_url).toBe("https://after-lock.example/");
  }, 30_000);
});
