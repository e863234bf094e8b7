import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { silentLogger } from "../lib/logger.ts";
import { createMetrics } from "../metrics.ts";
import { connectRedis, type RedisClients } from "../redis.ts";
import { createClickConsumer } from "./consumer.ts";
import { createClickMaintenance } from "./maintenance.ts";
import type { Click } from "./model.ts";
import { createClicksRepo } from "./repo.ts";
import { createReceiptsRepo, RECEIPT_PRUNE_LOCK_ID } from "./receipts-repo.ts";
import { clickFields } from "./stream.ts";

const HOUR = 3_600_000;
const GROUP = "linkfort";

let h: TestApp;
let redis: TestRedis;
let clients: RedisClients;
let raw: Redis;
let urlId: number;
let code: string;

async function connected(url: string): Promise<RedisClients> {
  const c = connectRedis(url, silentLogger);
  while (!c.up) await Bun.sleep(10);
  return c;
}

beforeAll(async () => {
  // The app's own maintenance must not take the lock in the middle of a test.
  h = await testApp({ clickMaintenanceMs: 86_400_000 });
  redis = await startRedis();
  clients = await connected(redis.url);
  raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  const userId = (await h.request("POST", "/users", { body: { username: "maint", email: "maint@example.com" } })).json.id;
  const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://maintenance.example/" } })).json;
  urlId = url.id;
  code = url.short_code;
}, 30_000);
afterAll(async () => {
  raw?.disconnect();
  await clients?.close();
  await redis?.stop();
  await h?.close();
}, 30_000);
beforeEach(async () => { await h.deps.sql`delete from click_receipts`; }, 30_000);

function maintenance(opts: { redis: RedisClients | undefined; streamKey?: string; batch?: number; consumerIdleMs?: number }) {
  const metrics = createMetrics();
  const m = createClickMaintenance({
    repo: createReceiptsRepo(h.deps.sql), redis: opts.redis, registry: metrics.registry, logger: silentLogger,
    streamKey: opts.streamKey ?? "t:none", group: GROUP, retentionMs: 24 * HOUR, consumerIdleMs: opts.consumerIdleMs ?? HOUR,
    everyMs: 60_000, batch: opts.batch,
  });
  const counter = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
  return { m, counter };
}

/** Receipts seen `hoursAgo` hours ago; returns their click ids. */
async function receipts(n: number, hoursAgo: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => crypto.randomUUID());
  for (const id of ids) await h.deps.sql`insert into click_receipts (click_id, seen_at) values (${id}, now() - make_interval(hours => ${hoursAgo}))`;
  return ids;
}
const remaining = async () => (await h.deps.sql<{ id: string }[]>`select click_id::text as id from click_receipts`).map((r) => r.id).sort();

describe("click receipt pruning", () => {
  test("deletes receipts past the retention in batches and keeps the newer ones", async () => {
    await receipts(25, 48);
    const kept = await receipts(5, 1);
    const { m, counter } = maintenance({ redis: undefined, batch: 10 });
    expect(await m.runOnce()).toEqual({ pruned: 25, batches: 3, removedConsumers: [] });
    expect(await remaining()).toEqual(kept.sort());
    expect(await counter("linkfort_click_receipts_pruned_total")).toBe(25);
  });

  test("keeps a receipt whose stream entry can still be delivered again, so the redelivery is not counted twice", async () => {
    const key = "t:needed";
    const click: Click = { id: crypto.randomUUID(), urlId, shortCode: code, at: new Date(Date.now() - 72 * HOUR) };
    // Three days ago a consumer read this entry and committed it, then died before XACK.
    await raw.xadd(key, `${Date.now() - 72 * HOUR}-0`, ...clickFields(click));
    await raw.call("XGROUP", "CREATE", key, GROUP, "0");
    await raw.call("XREADGROUP", "GROUP", GROUP, "crashed", "COUNT", "10", "STREAMS", key, ">");
    expect(await createClicksRepo(h.deps.sql).insertBatch([click])).toBe(1);
    await h.deps.sql`update click_receipts set seen_at = now() - interval '72 hours' where click_id = ${click.id}`;
    // Older than the oldest stream entry by more than the retention: no entry can bring it back.
    const stale = await receipts(1, 100);

    const { m } = maintenance({ redis: clients, streamKey: key });
    expect(await m.runOnce()).toEqual({ pruned: 1, batches: 1, removedConsumers: [] });
    expect(await remaining()).toEqual([click.id]);
    expect(await remaining()).not.toContain(stale[0]!);

    await Bun.sleep(150); // idle longer than claimIdleMs, so the entry can be claimed
    const next = createClickConsumer({
      redis: raw, repo: createClicksRepo(h.deps.sql), metrics: createMetrics(), logger: silentLogger,
      key, group: GROUP, consumer: "next", batch: 10, blockMs: 50, claimIdleMs: 100,
    });
    expect(await next.runOnce()).toEqual({ read: 1, claimed: 1, written: 0, acked: 1, failed: false });
    const [row] = await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where url_id = ${urlId} and event_type = 'clicked'`;
    expect(row!.n).toBe(1);
  });

  test("skips the round while Redis is down: the stream's oldest entry cannot be known", async () => {
    const down = await startRedis();
    const downClients = await connected(down.url);
    try {
      await down.stop();
      while (downClients.up) await Bun.sleep(10);
      await receipts(3, 48);
      const { m } = maintenance({ redis: downClients });
      expect(await m.runOnce()).toEqual({ skipped: "receipt horizon unknown: redis is down", pruned: 0, batches: 0, removedConsumers: [] });
      expect((await remaining()).length).toBe(3);
    } finally {
      await downClients.close();
      await down.stop();
    }
  });

  test("one instance at a time: a round skips while another session holds the lock", async () => {
    await receipts(4, 48);
    const holder = await h.deps.sql.reserve();
    const { m } = maintenance({ redis: undefined });
    try {
      await holder`select pg_advisory_lock(${RECEIPT_PRUNE_LOCK_ID})`;
      expect(await m.runOnce()).toEqual({ skipped: "another instance holds the maintenance lock", pruned: 0, batches: 0, removedConsumers: [] });
      expect((await remaining()).length).toBe(4);
    } finally {
      await holder`select pg_advisory_unlock(${RECEIPT_PRUNE_LOCK_ID})`;
      holder.release();
    }
    expect(await m.runOnce()).toEqual({ pruned: 4, batches: 1, removedConsumers: [] });
  });
});

describe("dead stream consumers", () => {
  const consumers = async (key: string) => {
    const list = (await raw.call("XINFO", "CONSUMERS", key, GROUP)) as string[][];
    return list.map((c) => ({ name: c[c.indexOf("name") + 1], pending: Number(c[c.indexOf("pending") + 1]) })).sort((a, b) => a.name!.localeCompare(b.name!));
  };

  test("removes an idle consumer with nothing pending and never one that still holds entries", async () => {
    const key = "t:consumers";
    for (let i = 0; i < 3; i++) await raw.xadd(key, "*", "n", String(i));
    await raw.call("XGROUP", "CREATE", key, GROUP, "0");
    // "holder" died with two entries read and not acked; "done" acked everything it read.
    await raw.call("XREADGROUP", "GROUP", GROUP, "holder", "COUNT", "2", "STREAMS", key, ">");
    const read = (await raw.call("XREADGROUP", "GROUP", GROUP, "done", "COUNT", "1", "STREAMS", key, ">")) as [string, [string, string[]][]][];
    await raw.call("XACK", key, GROUP, read[0]![1][0]![0]);
    await Bun.sleep(150); // both idle longer than the bound below

    const { m, counter } = maintenance({ redis: clients, streamKey: key, consumerIdleMs: 100 });
    expect(await m.runOnce()).toEqual({ pruned: 0, batches: 1, removedConsumers: ["done"] });
    expect(await consumers(key)).toEqual([{ name: "holder", pending: 2 }]);
    expect(await counter("linkfort_click_stream_consumers_removed_total")).toBe(1);
  });

  test("a stream or group that does not exist yet is nothing to clean", async () => {
    const { m } = maintenance({ redis: clients, streamKey: "t:absent" });
    expect(await m.runOnce()).toEqual({ pruned: 0, batches: 1, removedConsumers: [] });
  });
});
