/**
 * Click caps (max_clicks) across instances over one real PostgreSQL: exactly max_clicks 302s and
 * clicked events however the requests spread, 410s with the reason after, a raised cap letting
 * exactly the difference through, HEAD taking no slot, and orphaned claims (a process killed
 * between its claim and its spool write) given back on restart and by an adopting sibling.
 * The kill -9 of a real binary is in caps-kill.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../app.ts";
import { testConfig } from "../config.ts";
import { buildDeps, type Deps } from "../deps.ts";
import { silentLogger } from "../lib/logger.ts";
import { startInstances, type Instances } from "../../test/instances.ts";
import { waitFor } from "../../test/wait.ts";
import { createClickCaps } from "./caps.ts";
import { createMetrics } from "../metrics.ts";
import { createOffsetsRepo } from "./offsets-repo.ts";
import { createClicksRepo } from "./repo.ts";
import { createSpoolShipper } from "./shipper.ts";
import { createSpoolWriter } from "./spool-writer.ts";
import { processExists } from "./claim-release.ts";
import { ensureSpoolId, instanceSpoolDir, touchAlive } from "./spool-dir.ts";

let inst: Instances;

beforeAll(async () => {
  inst = await startInstances(3);
}, 60_000);
afterAll(async () => {
  await inst.close();
}, 30_000);

async function cappedLink(maxClicks: number, name: string): Promise<{ code: string; id: number }> {
  const { h } = inst;
  const user = await h.request("POST", "/users", { body: { username: name, email: `${name}@example.com` } });
  const link = await h.request("POST", "/urls", { body: { user_id: user.json.id, original_url: `https://${name}.example/` } });
  await setCap(link.json.id, link.json.short_code, maxClicks);
  return { code: link.json.short_code, id: link.json.id };
}

/**
 * SQL rather than the API's field: this file tests the cap, not the request body. `settle` is
 * what an API write does after its commit: it returns once every instance dropped the code.
 */
async function setCap(id: number, code: string, maxClicks: number): Promise<void> {
  await inst.h.deps.sql`update urls set max_clicks = ${maxClicks} where id = ${id}`;
  await inst.h.deps.cache.settle([code]);
}

interface Answer { status: number; body: string }

/** `total` GETs spread round-robin over the instances, `concurrency` at a time. */
async function burst(code: string, total: number, concurrency: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const target = inst.all[next++ % inst.all.length]!;
      const res = await fetch(`${target.base}/${code}`, { redirect: "manual" });
      answers.push({ status: res.status, body: await res.text() });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return answers;
}

async function shipAll(): Promise<void> {
  for (const i of inst.all) await i.deps.clicks.flushNow();
}

async function counts(urlId: number): Promise<{ events: number; claimed: number; open: number }> {
  const sql = inst.h.deps.sql;
  const [row] = await sql<{ events: number; claimed: number; open: number }[]>`
    select (select count(*)::int from events where event_type = 'clicked' and url_id = ${urlId}) as events,
      (select coalesce(max(claimed), 0)::int from click_caps where url_id = ${urlId}) as claimed,
      (select count(*)::int from click_claims where url_id = ${urlId}) as open`;
  return row!;
}

const tally = (answers: Answer[]) => ({
  redirects: answers.filter((a) => a.status === 302).length,
  gone: answers.filter((a) => a.status === 410).length,
  other: answers.filter((a) => a.status !== 302 && a.status !== 410).map((a) => `${a.status} ${a.body}`),
});

describe("max_clicks across three instances", () => {
  test("exactly max_clicks 302s and clicked events under concurrent requests well above it; the rest 410 naming the limit", async () => {
    const N = 40;
    const { code, id } = await cappedLink(N, "capped");
    // Warm each instance's cache so the race is between claims, not lookups.
    const answers = await burst(code, 200, 24);
    const t = tally(answers);
    expect(t.other).toEqual([]);
    expect(t.redirects).toBe(N);
    expect(t.gone).toBe(200 - N);
    const gone = answers.find((a) => a.status === 410)!;
    expect(JSON.parse(gone.body)).toEqual({ error: "Gone", message: `short code ${code} reached its click limit (${N} clicks)` });
    await shipAll();
    expect(await counts(id)).toEqual({ events: N, claimed: N, open: 0 });
  }, 60_000);

  test("raising max_clicks lets exactly the difference through, on every instance", async () => {
    const { code, id } = await cappedLink(5, "raised");
    expect(tally(await burst(code, 30, 6)).redirects).toBe(5);
    await setCap(id, code, 17);
    const after = tally(await burst(code, 60, 8));
    expect(after.other).toEqual([]);
    expect(after.redirects).toBe(12);
    await shipAll();
    expect(await counts(id)).toEqual({ events: 17, claimed: 17, open: 0 });
  }, 60_000);

  test("HEAD takes no slot: 302 while one is left, 410 once none is", async () => {
    const { code, id } = await cappedLink(2, "head");
    const base = inst.all[1]!.base;
    const head = async () => (await fetch(`${base}/${code}`, { method: "HEAD", redirect: "manual" })).status;
    expect(await head()).toBe(302);
    expect(await head()).toBe(302);
    expect(tally(await burst(code, 4, 1)).redirects).toBe(2);
    expect(await head()).toBe(410);
    await shipAll();
    expect(await counts(id)).toEqual({ events: 2, claimed: 2, open: 0 });
  }, 30_000);
});

describe("claims of one instance share a statement", () => {
  test("clicks waiting on a link's claim in flight go in the next one, granted in their order up to the slots left", async () => {
    const { id } = await cappedLink(3, "batched");
    const caps = createClickCaps({ sql: inst.h.deps.sql, spoolId: "batched-spool", track: true });
    const ids = Array.from({ length: 6 }, () => Bun.randomUUIDv7());
    // The first goes at once; the other five wait for it and share the next statement, which has
    // two slots left for them.
    expect(await Promise.all(ids.map((click) => caps.claim(id, click)))).toEqual(["claimed", "claimed", "claimed", "full", "full", "full"]);
    const rows = await inst.h.deps.sql<{ click_id: string }[]>`select click_id from click_claims where url_id = ${id} order by click_id`;
    expect(rows.map((r) => r.click_id)).toEqual(ids.slice(0, 3));
    expect(await counts(id)).toEqual({ events: 0, claimed: 3, open: 3 });
    // The last statement that took slots took two at once (one click per statement: one).
    const [cap] = await inst.h.deps.sql<{ granted: number }[]>`select granted::int from click_caps where url_id = ${id}`;
    expect(cap?.granted).toBe(2);
    await inst.h.deps.sql`delete from click_claims where url_id = ${id}`;
  }, 30_000);
});

describe("orphaned claims", () => {
  test("a restart on the spool gives back the slots an earlier process claimed and never spooled", async () => {
    const { code, id } = await cappedLink(3, "restart");
    const root = mkdtempSync(join(tmpdir(), "linkfort-caps-restart-"));
    const port = 18150;
    const spoolId = ensureSpoolId(instanceSpoolDir(root, port));
    // What a process killed between claim and spool write leaves: claims of its incarnation.
    const dead = createClickCaps({ sql: inst.h.deps.sql, spoolId, track: true });
    expect(await dead.claim(id, Bun.randomUUIDv7())).toBe("claimed");
    expect(await dead.claim(id, Bun.randomUUIDv7())).toBe("claimed");
    expect(await counts(id)).toEqual({ events: 0, claimed: 2, open: 2 });
    // Only one slot is left until the restart.
    expect(tally(await burst(code, 4, 2)).redirects).toBe(1);

    const deps = buildDeps(testConfig({ port, clickSpoolDir: root }), silentLogger, inst.h.databaseUrl);
    try {
      deps.jobs.start();
      await waitFor("the restart's release", async () => (await counts(id)).open === 0, 10_000);
      await shipAll();
      expect(await counts(id)).toEqual({ events: 1, claimed: 1, open: 0 });
      // An instance that found the link full answers 410 from memory for up to a second
      // (click-cap.ts); the released slots are there once that has passed.
      let redirects = 0;
      await waitFor("the two released slots", async () => (redirects += tally(await burst(code, 3, 1)).redirects) >= 2, 10_000, { everyMs: 100 });
      expect(redirects).toBe(2);
      expect(tally(await burst(code, 6, 2)).redirects).toBe(0);
      await shipAll();
      expect(await counts(id)).toEqual({ events: 3, claimed: 3, open: 0 });
    } finally {
      await deps.close();
      rmSync(root, { recursive: true, force: true });
    }
  }, 30_000);

  test("an instance adopting a sibling spool gives back the claims of processes that are gone, never of one that runs", async () => {
    const { id } = await cappedLink(10, "adopted");
    const root = mkdtempSync(join(tmpdir(), "linkfort-caps-adopt-"));
    const siblingDir = instanceSpoolDir(root, 18161);
    const siblingId = ensureSpoolId(siblingDir);
    touchAlive(siblingDir);
    utimesSync(join(siblingDir, "alive"), new Date(0), new Date(0)); // its instance stopped long ago
    const sql = inst.h.deps.sql;
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    const running = Bun.spawn(["sleep", "60"]);
    try {
      expect(processExists(gone.pid)).toBe(false);
      const deadClaim = Bun.randomUUIDv7();
      const liveClaim = Bun.randomUUIDv7();
      // Claims as those processes would have made them (the pid is the only difference).
      for (const [click, pid] of [[deadClaim, gone.pid], [liveClaim, running.pid]] as const) {
        await sql`insert into click_caps (url_id, claimed) values (${id}, 1) on conflict (url_id) do update set claimed = click_caps.claimed + 1`;
        await sql`insert into click_claims (click_id, url_id, spool_id, incarnation, pid) values (${click}, ${id}, ${siblingId}, ${crypto.randomUUID()}, ${pid})`;
      }
      expect(await counts(id)).toEqual({ events: 0, claimed: 2, open: 2 });

      const deps: Deps = buildDeps(testConfig({ port: 18160, clickSpoolDir: root, clickSpoolAdoptAfterMs: 1_000 }), silentLogger, inst.h.databaseUrl);
      createApp(deps);
      try {
        deps.jobs.start();
        await waitFor("the adopter's release", async () => (await counts(id)).open === 1, 15_000);
        const [left] = await sql<{ click_id: string }[]>`select click_id from click_claims where url_id = ${id}`;
        expect(left?.click_id).toBe(liveClaim);
        expect((await counts(id)).claimed).toBe(1);
      } finally {
        await deps.close();
      }
    } finally {
      running.kill();
      rmSync(root, { recursive: true, force: true });
    }
  }, 30_000);
});

describe("a claimed click PostgreSQL refuses at shipping", () => {
  test("is dropped without an event, and its slot stays taken (its 302 went out): the claim is settled, not left to be released", async () => {
    const { id, code } = await cappedLink(2, "refused");
    const sql = inst.h.deps.sql;
    const root = mkdtempSync(join(tmpdir(), "linkfort-caps-refused-"));
    try {
      const dir = instanceSpoolDir(root, 18170);
      const spoolId = ensureSpoolId(dir);
      const metrics = createMetrics();
      const writer = createSpoolWriter({ dir, spoolId, metrics, logger: silentLogger, sync: false, segmentBytes: 1 << 20, maxBytes: 1 << 30 });
      writer.open();
      const caps = createClickCaps({ sql, spoolId, track: true });
      const clickId = Bun.randomUUIDv7();
      expect(await caps.claim(id, clickId)).toBe("claimed");
      // A NUL that jsonb refuses (22P05): the redirect strips it, a hand-written line may not.
      expect(await writer.append({ id: clickId, urlId: id, shortCode: code, at: new Date(), userAgent: "nul \u0000 here" })).toBe(true);
      const shipper = createSpoolShipper({ dir, spoolId, offsets: createOffsetsRepo(sql, createClicksRepo(sql)), metrics, logger: silentLogger, batchMax: 10, appended: writer.appended });
      await waitFor("the refused click stepped over", async () => {
        const round = await shipper.runOnce().catch(() => undefined); // the batch's data error first, then the click alone
        return round?.caughtUp === true && round.consumed === 0;
      }, 10_000);
      expect(await metrics.clicksDropped.get().then((m) => m.values.find((v) => v.labels.reason === "rejected")?.value)).toBe(1);
      expect(await counts(id)).toEqual({ events: 0, claimed: 1, open: 0 });
      await writer.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 30_000);
});

