import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "../db/client.ts";
import { createLogger } from "../lib/logger.ts";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { createKeysRepo } from "./repo.ts";
import { createKeysService, TOUCH_INTERVAL_MS } from "./service.ts";
import { hashKey } from "./secret.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

/** last_used_at in epoch milliseconds (drizzle leaves raw timestamps as strings on this pool). */
const lastUsed = async (key: string): Promise<number | null> => {
  const [row] = await h.deps.sql<{ ms: number | null }[]>`
    select (extract(epoch from last_used_at) * 1000)::float8 as ms from api_keys where hash = ${hashKey(key)}`;
  return row!.ms;
};

describe("hashKey", () => {
  test("agrees with PostgreSQL's sha256 of the UTF-8 key, which the harness and operators use", async () => {
    for (const key of ["lf_abc", "lf_ünïcødé✓", "lf_" + "Z".repeat(40)]) {
      const [row] = await h.deps.sql<{ hex: string }[]>`select encode(sha256(convert_to(${key}, 'UTF8')), 'hex') as hex`;
      expect(hashKey(key)).toBe(row!.hex);
    }
  });
});

describe("last_used_at", () => {
  const logs: string[] = [];
  const logger = createLogger("warn", {}, (line) => logs.push(line));
  // Starts at the real time because the service also compares it with last_used_at from the database.
  let clock = Date.now();
  const keys = () => createKeysService(createKeysRepo(h.deps.db), { logger, now: () => clock });

  test("is written on first use, then at most once per interval per key", async () => {
    const service = keys();
    const key = await h.insertKey("admin");
    await service.authenticate(`Bearer ${key}`);
    await service.settle();
    expect(await lastUsed(key)).toEqual(expect.any(Number));

    // Pretend the write happened long ago: only the in-memory throttle can now stop a new one.
    await h.deps.sql`update api_keys set last_used_at = now() - interval '2 hours' where hash = ${hashKey(key)}`;
    const old = await lastUsed(key);
    clock += TOUCH_INTERVAL_MS - 1;
    await service.authenticate(`Bearer ${key}`);
    await service.settle();
    expect(await lastUsed(key)).toEqual(old);

    clock += 1;
    await service.authenticate(`Bearer ${key}`);
    await service.settle();
    expect(await lastUsed(key)).toBeGreaterThan(old!);
  });

  test("a failing write neither fails nor delays the request; it is logged", async () => {
    const repo = createKeysRepo(h.deps.db);
    const service = createKeysService({ ...repo, touch: () => Promise.reject(new Error("disk full")) }, { logger, now: () => clock });
    const key = await h.insertKey("admin");
    const principal = await service.authenticate(`Bearer ${key}`);
    expect(principal).toEqual({ role: "admin", keyId: expect.any(Number) });
    await service.settle();
    expect(logs.some((l) => l.includes("api key last_used_at update failed") && l.includes("disk full")), logs.join("\n")).toBe(true);
  });
});

describe("authenticate", () => {
  test("a user key yields its user; an admin key yields no user", async () => {
    const [user] = await h.deps.sql<{ id: number }[]>`insert into users (username, email) values ('svc', 'svc@example.com') returning id`;
    const userKey = await h.insertKey("user", user!.id);
    const userPrincipal = await h.deps.keys.authenticate(`Bearer ${userKey}`);
    expect(userPrincipal).toEqual({ role: "user", keyId: expect.any(Number), userId: user!.id });
    expect(await h.deps.keys.authenticate(`Bearer ${h.adminKey}`)).toEqual({ role: "admin", keyId: expect.any(Number) });
  });
});

describe("ensureBootstrapAdminKey", () => {
  test("does nothing while an active admin key exists", async () => {
    expect(await h.deps.keys.ensureBootstrapAdminKey()).toBeUndefined();
  });

  // Regression: start-up minted a new admin key whenever none was active, so revoking a leaked
  // key got the operator a fresh one at the next crash or rolling restart, printed where it starts.
  test("does nothing on a database whose admin keys were all revoked", async () => {
    const fresh = await testApp();
    try {
      await fresh.deps.sql`update api_keys set revoked_at = now()`;
      expect(await fresh.deps.keys.ensureBootstrapAdminKey()).toBeUndefined();
      const [row] = await fresh.deps.sql<{ n: number }[]>`select count(*)::int as n from api_keys where revoked_at is null`;
      expect(row!.n).toBe(0);
    } finally {
      await fresh.close();
    }
  });

  test("ten instances starting at once on a database that never had a key create exactly one admin key, and it works", async () => {
    const fresh = await testApp();
    // Each "instance" has its own pool, as separate processes would.
    const pools = Array.from({ length: 10 }, (_, i) =>
      connect({ url: fresh.databaseUrl, poolMax: 1, statementTimeoutMs: 10_000, applicationName: `bootstrap-${i}` }));
    try {
      await fresh.deps.sql`delete from api_keys`; // the harness key: now the database never had one
      const results = await Promise.all(pools.map(({ db }) =>
        createKeysService(createKeysRepo(db), { logger: createLogger("error", {}, () => {}) }).ensureBootstrapAdminKey()));
      const created = results.filter((k): k is string => k !== undefined);
      expect(created.length, JSON.stringify(results)).toBe(1);
      const [active] = await fresh.deps.sql<{ n: number }[]>`
        select count(*)::int as n from api_keys where scope = 'admin' and revoked_at is null`;
      expect(active!.n).toBe(1);
      const res = await fresh.request("GET", "/admin/keys", { key: created[0]! });
      expect(res.status, show(res)).toBe(200);
      expect(res.json.at(-1), show(res)).toEqual({
        id: expect.any(Number), name: "bootstrap admin", prefix: created[0]!.slice(0, 10), scope: "admin", user_id: null,
        // The request above may already have recorded its use; the write is fire-and-forget.
        created_at: expect.any(String), last_used_at: res.json.at(-1)?.last_used_at, revoked_at: null,
      });
      expect(await fresh.deps.keys.ensureBootstrapAdminKey()).toBeUndefined();
    } finally {
      await Promise.all(pools.map(({ sql }) => sql.end()));
      await fresh.close();
    }
  });
});
