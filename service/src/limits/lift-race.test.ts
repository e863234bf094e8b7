/**
 * A lifted ban must stay lifted. The ban sync reads PostgreSQL's active
 * bans, then copies them into Redis and this instance's memory; an admin who lifts a ban between
 * that read and the copy used to lose: the copy put the ban back after the lift had removed it,
 * and a permanent ban has no TTL while the sync never deletes, so it stayed for good.
 *
 * The race is driven deterministically: the sync runs over the real bans repo, whose `active`
 * read is held (after it returned from PostgreSQL) until the lift has finished. Real PostgreSQL,
 * real redis-server; the gate only orders the two.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { waitFor } from "../../test/wait.ts";
import { OPEN_PRINCIPAL } from "../http/auth.ts";
import { silentLogger } from "../lib/logger.ts";
import { createMetrics } from "../metrics.ts";
import { createBansService } from "./bans.ts";
import { createMemoryStore, type MemoryStore } from "./memory-store.ts";
import { banKey, createRedisStore } from "./redis-store.ts";
import { createBansRepo, type BansRepo } from "./repo.ts";
import { createLimits, type Limits } from "./service.ts";
import { describeSent, freshIp, limitsConfig, send, SETUP_IP } from "./test-kit.ts";

let redis: TestRedis;
let h: TestApp;
let repo: BansRepo;

beforeAll(async () => {
  redis = await startRedis();
  h = await testApp(limitsConfig(redis.url));
  repo = createBansRepo(h.deps.db);
  await h.deps.rateLimits.sync?.runOnce();
  await waitFor("redis connection", () => h.deps.redis!.up, 20_000);
}, 30_000);
afterAll(async () => {
  await h?.close();
  await redis?.stop();
}, 30_000);

/** A second instance's limiter whose sync can be held right after its PostgreSQL read. */
function gatedInstance() {
  let hold: Promise<void> | undefined;
  let release = () => {};
  let readDone = () => {};
  let read: Promise<void> = Promise.resolve();
  const gated: BansRepo = {
    ...repo,
    async active(now) {
      const rows = await repo.active(now);
      readDone();
      if (hold) await hold;
      return rows;
    },
  };
  const memory: MemoryStore = createMemoryStore(1_000);
  const limits: Limits = createLimits({
    perMinute: { redirect: 3, read: 3, write: 3 },
    banAfterViolations: 5, violationWindowMs: 3_600_000, banDurationMs: 3_600_000, banPermanentAfter: 3,
    redis: createRedisStore(h.deps.redis!), memory, repo: gated, metrics: createMetrics(), logger: silentLogger,
  });
  return {
    limits, memory,
    bans: createBansService(gated, limits, Date.now),
    /** The next sync reads, then waits for `release`. */
    holdNextSync() {
      hold = new Promise((r) => { release = () => { hold = undefined; r(); }; });
      read = new Promise((r) => { readDone = r; });
      return { read, release: () => release() };
    },
  };
}

const permanentBan = (ip: string) => repo.insert({ subject: ip, kind: "ip", level: 2, reason: "test", until: null }, new Date());
const bannedInRedis = async (ip: string) => (await h.deps.redis!.command.get(banKey(`ip:${ip}`))) !== null;
const bannedInMemory = async (memory: MemoryStore, ip: string) =>
  (await memory.hit([`ip:${ip}`], [], Date.now(), { spacingMs: 60_000, windowMs: 3_600_000 })).kind === "banned";

describe("lifting a ban while a sync is between its read and its copy", () => {
  test("a lift on another instance wins: the sync does not put the permanent ban back into Redis", async () => {
    const other = gatedInstance();
    const ip = freshIp();
    const ban = await permanentBan(ip);
    await other.limits.syncOnce();
    expect((await send(h.app, "GET", "/users", { ip })).status).toBe(403);

    const held = other.holdNextSync();
    const sync = other.limits.syncOnce();
    await held.read; // the sync has read the ban as active
    const lifted = await send(h.app, "DELETE", `/admin/bans/${ban.id}`, { ip: SETUP_IP, key: h.adminKey });
    expect(lifted.status, describeSent(lifted)).toBe(204);
    held.release();
    await sync;

    expect(await bannedInRedis(ip)).toBe(false);
    const after = await send(h.app, "GET", "/users", { ip, key: h.adminKey });
    expect(after.status, describeSent(after)).toBe(200);
    // And the next rounds, on either instance, agree.
    await other.limits.syncOnce();
    await h.deps.rateLimits.sync?.runOnce();
    expect(await bannedInRedis(ip)).toBe(false);
    expect(await bannedInMemory(other.memory, ip)).toBe(false);
  });

  test("a lift on the syncing instance wins in its memory too", async () => {
    const one = gatedInstance();
    const ip = freshIp();
    const ban = await permanentBan(ip);
    await one.limits.syncOnce();
    expect(await bannedInMemory(one.memory, ip)).toBe(true);

    const held = one.holdNextSync();
    const sync = one.limits.syncOnce();
    await held.read;
    await one.bans.lift(OPEN_PRINCIPAL, ban.id);
    held.release();
    await sync;

    expect(await bannedInRedis(ip)).toBe(false);
    expect(await bannedInMemory(one.memory, ip)).toBe(false);
    expect((await one.limits.check({ kind: "read", ip, keyHash: undefined })).pass).toBe(true);
  });

  test("a new ban after the lift is copied as usual", async () => {
    const one = gatedInstance();
    const ip = freshIp();
    const first = await permanentBan(ip);
    await one.limits.syncOnce();
    await one.bans.lift(OPEN_PRINCIPAL, first.id);
    expect(await bannedInRedis(ip)).toBe(false);
    await permanentBan(ip); // the client earned a new one (recorded, say, while Redis was away)
    await one.limits.syncOnce();
    expect(await bannedInRedis(ip)).toBe(true);
    expect(await bannedInMemory(one.memory, ip)).toBe(true);
    expect((await one.limits.check({ kind: "read", ip, keyHash: undefined })).pass).toBe(false);
  });

  test("a lift that never reached Redis (down at the time) is applied by the next sync", async () => {
    const one = gatedInstance();
    const ip = freshIp();
    const ban = await permanentBan(ip);
    await one.limits.syncOnce();
    expect(await bannedInRedis(ip)).toBe(true);
    await repo.lift(ban.id, new Date()); // PostgreSQL took the lift; Redis never heard of it
    await one.limits.syncOnce();
    expect(await bannedInRedis(ip)).toBe(false);
    expect((await send(h.app, "GET", "/users", { ip, key: h.adminKey })).status).toBe(200);
  });
});
