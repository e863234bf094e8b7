/**
 * PostgreSQL down (a stopped loopback proxy between the pool and the server): a capped link
 * answers 503 saying its clicks cannot be counted, since a slot is only ever taken in
 * PostgreSQL, while an uncapped link in the cache still redirects. Once PostgreSQL is back the
 * capped link redirects again, and no slot was lost or given twice.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { createApp, type App } from "../app.ts";
import { testConfig } from "../config.ts";
import { buildDeps, type Deps } from "../deps.ts";
import { silentLogger } from "../lib/logger.ts";
import { testApp, type TestApp } from "../../test/harness.ts";
import { tcpProxy, type TcpProxy } from "../../test/tcp-proxy.ts";
import { waitFor } from "../../test/wait.ts";

let h: TestApp;
let proxy: TcpProxy;
let deps: Deps;
let app: App;

beforeAll(async () => {
  h = await testApp();
  const target = new URL(h.databaseUrl);
  proxy = tcpProxy({ host: target.hostname, port: Number(target.port) });
  await proxy.start();
  target.port = String(proxy.port);
  deps = buildDeps(testConfig(), silentLogger, target.toString());
  deps.health.markReady();
  app = createApp(deps);
  deps.jobs.start();
  await waitFor("the cache invalidation listener", () => deps.cache.trusted, 10_000);
}, 30_000);
// postgres.js's end() waits its full timeout after connections were cut under it.
afterAll(async () => {
  await deps.close();
  await proxy.stop();
  await h.close();
}, 20_000);

const get = async (code: string, method = "GET") => {
  const res = await app.handle(new Request(`http://localhost/${code}`, { method }));
  return { status: res.status, retryAfter: res.headers.get("retry-after"), text: await res.text() };
};

describe("PostgreSQL down with capped and uncapped links", () => {
  test("capped: 503 naming the reason, no slot taken; uncapped cached: 302; capped redirects again once PostgreSQL is back", async () => {
    const user = await h.request("POST", "/users", { body: { username: "capdown", email: "capdown@example.com" } });
    const plain = (await h.request("POST", "/urls", { body: { user_id: user.json.id, original_url: "https://plain.example/" } })).json;
    const capped = (await h.request("POST", "/urls", { body: { user_id: user.json.id, original_url: "https://capped.example/" } })).json;
    await h.deps.sql`update urls set max_clicks = 3 where id = ${capped.id}`;
    await h.deps.cache.settle([capped.short_code]); // as an API write: returns once every instance forgot the code
    expect((await get(capped.short_code)).status).toBe(302); // slot 1, and cached
    expect((await get(plain.short_code)).status).toBe(302); // cached now

    await proxy.stop();
    try {
      for (let i = 0; i < 5; i++) {
        const down = await get(capped.short_code);
        expect(down.status, down.text).toBe(503);
        expect(down.retryAfter).toBe("5");
        expect(JSON.parse(down.text)).toEqual({
          error: "Service Unavailable",
          message: `short code ${capped.short_code} has a click limit, and its clicks cannot be counted while the database is unavailable; try again shortly`,
        });
        expect((await get(capped.short_code, "HEAD")).status).toBe(503);
        const cached = await get(plain.short_code);
        expect(cached.status, cached.text).toBe(302);
      }
    } finally {
      await proxy.start();
    }

    // Slots 2 and 3, then full: the outage's 503s took none.
    await waitFor("PostgreSQL back for the capped link", async () => (await get(capped.short_code)).status === 302, 15_000, { everyMs: 100 });
    expect((await get(capped.short_code)).status).toBe(302);
    const full = await get(capped.short_code);
    expect(full.status, full.text).toBe(410);
    expect(JSON.parse(full.text).message).toBe(`short code ${capped.short_code} reached its click limit (3 clicks)`);
    await deps.clicks.flushNow();
    const state = async () => (await h.deps.sql<{ events: number; claimed: number; open: number }[]>`
      select (select count(*)::int from events where event_type = 'clicked' and url_id = ${capped.id}) as events,
        (select coalesce(max(claimed), 0)::int from click_caps where url_id = ${capped.id}) as claimed,
        (select count(*)::int from click_claims where url_id = ${capped.id}) as open`)[0]!;
    expect(await state()).toEqual({ events: 3, claimed: 3, open: 0 });
  }, 60_000);
});

describe("a claim that committed while its answer was lost", () => {
  test("answers 503, and its slot comes back once PostgreSQL answers again (no click was spooled for it)", async () => {
    const target = new URL(h.databaseUrl);
    const lossy = tcpProxy({ host: target.hostname, port: Number(target.port) });
    await lossy.start();
    target.port = String(lossy.port);
    // A short response timeout: a connection that hears nothing for 500 ms is closed, and the
    // request waiting on it fails.
    const d = buildDeps(testConfig({ dbResponseTimeoutMs: 500 }), silentLogger, target.toString());
    d.health.markReady();
    const a = createApp(d);
    d.jobs.start();
    try {
      await waitFor("the second instance's listener", () => d.cache.trusted, 10_000);
      const user = await h.request("POST", "/users", { body: { username: "lossy", email: "lossy@example.com" } });
      const link = (await h.request("POST", "/urls", { body: { user_id: user.json.id, original_url: "https://lossy.example/" } })).json;
      await h.deps.sql`update urls set max_clicks = 3 where id = ${link.id}`;
      await h.deps.cache.settle([link.short_code]);
      const follow = async (method = "GET") => {
        const res = await a.handle(new Request(`http://localhost/${link.short_code}`, { method }));
        return { status: res.status, text: await res.text() };
      };
      const state = async () => (await h.deps.sql<{ claimed: number; open: number }[]>`
        select (select coalesce(max(claimed), 0)::int from click_caps where url_id = ${link.id}) as claimed,
          (select count(*)::int from click_claims where url_id = ${link.id}) as open`)[0]!;
      expect((await follow()).status).toBe(302); // slot 1, and the link cached
      await d.clicks.flushNow();
      expect(await state()).toEqual({ claimed: 1, open: 0 });

      // The next claim waits in PostgreSQL on the cap row (held here); meanwhile PostgreSQL's
      // answers stop reaching the instance; the row is let go, the claim commits unanswered.
      const locker = postgres(h.databaseUrl, { max: 1, onnotice: () => {} });
      const { promise: letGo, resolve } = Promise.withResolvers<void>();
      const { promise: locked, resolve: lockTaken } = Promise.withResolvers<void>();
      const holding = locker.begin(async (tx) => {
        await tx`select 1 from click_caps where url_id = ${link.id} for update`;
        lockTaken();
        await letGo;
      });
      let lost: { status: number; text: string } | undefined;
      let orphaned: { claimed: number; open: number } | undefined;
      try {
        await locked;
        const pending = follow().then((r) => { lost = r; });
        await waitFor("the claim waiting on the cap row", async () => (await h.deps.sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity where query like '%insert into click_caps%' and wait_event_type = 'Lock'`)[0]!.n > 0, 10_000);
        lossy.hold({ answersOnly: true });
        resolve();
        await holding;
        await pending;
        // Read past the proxy while it still holds: the instance cannot have released it yet.
        orphaned = await state();
      } finally {
        resolve();
        lossy.release();
        await locker.end();
      }
      expect(lost?.status, lost?.text).toBe(503);
      expect(JSON.parse(lost!.text).message).toContain("cannot be counted");
      // Committed (the slot is taken), answered to nobody, so nothing was spooled for it: an
      // orphan of a running process, which it gives back itself once PostgreSQL answers again.
      expect(orphaned).toEqual({ claimed: 2, open: 1 });
      await waitFor("the unanswered claim's release", async () => (await state()).open === 0, 20_000, { everyMs: 100 });
      expect(await state()).toEqual({ claimed: 1, open: 0 });
      // Slots 2 and 3 are there: the 503 took none.
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push((await follow()).status);
      expect(answers).toEqual([302, 302, 410]);
    } finally {
      await d.close();
      await lossy.stop();
    }
  }, 60_000);
});
