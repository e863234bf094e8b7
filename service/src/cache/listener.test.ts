/**
 * The LISTEN connection under trouble, on real PostgreSQL: killed by pg_terminate_backend (and
 * kept down), big statements whose codes span several notifications, and one past the flush
 * threshold. Two instances on one database, no Redis.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { show } from "../../test/harness.ts";
import { startInstances, type Instance, type Instances } from "../../test/instances.ts";
import { waitFor } from "../../test/wait.ts";

let fleet: Instances;
let admin: postgres.Sql;
let userId: number;

beforeAll(async () => {
  fleet = await startInstances(2);
  admin = postgres(fleet.h.databaseUrl, { max: 1, onnotice: () => {} });
  userId = (await fleet.h.request("POST", "/users", { body: { username: "lsn", email: "lsn@example.com" } })).json.id;
}, 30_000);
afterAll(async () => {
  await admin.end();
  await fleet.close();
}, 30_000);

const invalidations = async (instance: Instance, kind: string) =>
  (await instance.deps.metrics.cacheInvalidations.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;

/** Terminates the instance's LISTEN backend, again each time it comes back, until stopped. */
function keepListenerDown(instance: Instance) {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${`linkfort-listen:${instance.port}`}`;
      await Bun.sleep(2); // a tight loop, not a wait for a condition: each round kills whatever reconnected
    }
  })();
  return async () => { stopped = true; await loop; };
}

async function newLink(target: string) {
  const res = await fleet.h.request("POST", "/urls", { body: { user_id: userId, original_url: target } });
  expect(res.status, show(res)).toBe(201);
  return res.json as { id: number; short_code: string };
}

describe("the listening connection killed", () => {
  test("while it is down nothing stale is served; once back the LRU was emptied", async () => {
    const [writer, victim] = fleet.all as [Instance, Instance];
    const link = await newLink("https://killed.example/");
    await waitFor("victim caches the link", async () => (await victim.follow(link.short_code)).cache === "lru", 5_000);
    const reconnectsBefore = await invalidations(victim, "reconnect");

    const release = keepListenerDown(victim);
    try {
      await waitFor("victim sees its listener gone", () => !victim.deps.cache.trusted, 5_000);
      const put = await writer.app.handle(new Request(`http://localhost/urls/${link.id}`, {
        method: "PUT", body: JSON.stringify({ is_active: false }),
        headers: { authorization: `Bearer ${fleet.h.adminKey}`, "content-type": "application/json" },
      }));
      expect(put.status).toBe(200);
      const reconnectsAtPut = await invalidations(victim, "reconnect");
      const answers = [];
      for (let i = 0; i < 20; i++) answers.push(await victim.follow(link.short_code));
      // The LRU entry said 302; with the gate closed the answer came from PostgreSQL.
      expect(answers.filter((a) => a.status !== 410)).toEqual([]);
      expect(answers[0]!.cache).toBe("db");
      // On a busy machine the kill loop can miss a reconnect: the listener is back for a moment,
      // which empties the LRU, and the next 410 is cached afresh. An LRU answer without a
      // reconnect in between would be the gate failing.
      if (answers.some((a) => a.cache === "lru")) expect(await invalidations(victim, "reconnect")).toBeGreaterThan(reconnectsAtPut);
    } finally {
      await release();
    }

    await waitFor("victim listening again", () => victim.deps.cache.trusted, 10_000);
    expect(await invalidations(victim, "reconnect")).toBeGreaterThan(reconnectsBefore);
    expect(victim.deps.cache.size).toBe(0);
    expect((await victim.follow(link.short_code)).status).toBe(410);
  }, 30_000);
});

describe("big statements", () => {
  test("a user's 1,500 links span several notifications under 8000 bytes; deleting the user reaches every instance", async () => {
    const owner = (await fleet.h.request("POST", "/users", { body: { username: "bulk", email: "bulk@example.com" } })).json.id;
    await admin`insert into urls (user_id, short_code, original_url)
      select ${owner}, 'bk' || lpad(i::text, 6, '0'), 'https://bulk.example/' || i from generate_series(1, 1500) as i`;
    const sample = ["bk000001", "bk000750", "bk001500"];
    for (const instance of fleet.all) for (const code of sample) {
      await waitFor(`${instance.port} caches ${code}`, async () => (await instance.follow(code)).cache === "lru", 5_000);
    }
    const codesBefore = await invalidations(fleet.all[1]!, "code");
    const res = await fleet.h.request("DELETE", `/users/${owner}`);
    expect(res.status, show(res)).toBe(204);
    for (const instance of fleet.all) for (const code of sample) expect((await instance.follow(code)).status).toBe(404);
    expect(await invalidations(fleet.all[1]!, "code")).toBe(codesBefore + 1500);
  });

  test("a statement past 5,000 codes flushes every instance's LRU", async () => {
    const link = await newLink("https://before-flush.example/");
    for (const instance of fleet.all) {
      await waitFor(`${instance.port} caches the link`, async () => (await instance.follow(link.short_code)).cache === "lru", 5_000);
    }
    const flushesBefore = await Promise.all(fleet.all.map((i) => invalidations(i, "flush")));
    await admin`insert into urls (user_id, short_code, original_url)
      select ${userId}, 'fl' || lpad(i::text, 6, '0'), 'https://flush.example/' || i from generate_series(1, 6000) as i`;
    await fleet.all[0]!.deps.cache.settle([]);
    for (const [i, instance] of fleet.all.entries()) {
      expect(await invalidations(instance, "flush")).toBe(flushesBefore[i]! + 1);
      expect(instance.deps.cache.size).toBe(0);
    }
  });
});
