import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApp, type TestApp } from "../../test/harness.ts";
import { connect } from "../db/client.ts";
import { createClicksRepo, pgArrayLiteral } from "./repo.ts";
import type { Click } from "./model.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

describe("clicks repo", () => {
  test("array literals round-trip quotes, backslashes, commas and braces through PostgreSQL", async () => {
    const values = ['{"a":"b,c"}', 'q"uote', "back\\slash", "{}", "", "NULL", "é😀"];
    const [row] = await h.deps.sql<{ v: string[] }[]>`select ${pgArrayLiteral(values)}::text::text[] as v`;
    expect(row?.v).toEqual(values);
  });

  // Regression: postgres.js serialised a JS array as "1,2" on a pool that had not loaded the
  // server's array types yet, so the first batch of every fresh instance failed.
  test("the first batch on a brand-new pool is written", async () => {
    const userId = (await h.request("POST", "/users", { body: { username: "fresh", email: "fresh@example.com" } })).json.id;
    const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://fresh.example/" } })).json;
    const { sql } = connect({ url: h.databaseUrl, poolMax: 1, statementTimeoutMs: 5_000, applicationName: "clicks-repo-test" });
    try {
      const written = await createClicksRepo(sql).insertBatch([
        { id: crypto.randomUUID(), urlId: url.id, shortCode: url.short_code, at: new Date("2024-01-02T03:04:05.678Z"), referrer: 'r"\\,{}', userAgent: "é😀" },
      ]);
      expect(written).toBe(1);
    } finally {
      await sql.end();
    }
    const [event] = await h.deps.sql`select user_id, timestamp::text as at, details from events where url_id = ${url.id} and event_type = 'clicked'`;
    expect(event).toEqual({
      user_id: userId, at: "2024-01-02 03:04:05.678",
      details: { short_code: url.short_code, referrer: 'r"\\,{}', user_agent: "é😀" },
    });
  });

  test("a batch of many clicks on few links: one event per click in batch order, rollups and their bot clicks counted exactly, twice over", async () => {
    const userId = (await h.request("POST", "/users", { body: { username: "many", email: "many@example.com" } })).json.id;
    const links = await Promise.all([1, 2, 3].map(async (n) =>
      (await h.request("POST", "/urls", { body: { user_id: userId, original_url: `https://many.example/${n}` } })).json as { id: number; short_code: string }));
    // 300 clicks: link 1 gets 200 across a UTC midnight, link 2 gets 99, link 3 one; three
    // referrers and three agents in a fixed rotation, so every count below is known exactly. curl
    // is a bot (clicks/bots.ts); Firefox and a click without the header are people.
    const referrers = [undefined, "https://t.co/x", "https://News.example/a"];
    const agents = ["curl/8.5.0", "Mozilla/5.0 (X11; rv:121.0) Gecko/20100101 Firefox/121.0", undefined];
    const clicks: Click[] = Array.from({ length: 300 }, (_, i) => {
      const link = links[i < 200 ? 0 : i < 299 ? 1 : 2]!;
      const at = new Date(Date.UTC(2024, 4, 31, 23, 59, 0) + i * 1000); // i >= 60: June 1st
      return { id: crypto.randomUUID(), urlId: link.id, shortCode: link.short_code, at, referrer: referrers[i % 3], userAgent: agents[i % 3], clientIp: `10.0.0.${i % 7}` };
    });
    const repo = createClicksRepo(h.deps.sql);
    expect(await repo.insertBatch(clicks)).toBe(300);
    expect(await repo.insertBatch(clicks.slice(0, 150))).toBe(150); // the same keys again: upserts add

    const events = await h.deps.sql<{ url_id: number; user_id: number; at: string; details: Record<string, string | boolean | undefined> }[]>`
      select url_id, user_id, to_char(timestamp, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at, details from events
      where event_type = 'clicked' and url_id in ${h.deps.sql(links.map((l) => l.id))} order by id`;
    const isBot = (c: Click) => c.userAgent?.startsWith("curl/") === true;
    const expected = [...clicks, ...clicks.slice(0, 150)].map((c) => ({
      url_id: c.urlId, user_id: userId, at: c.at.toISOString(),
      details: {
        short_code: c.shortCode, ...(c.referrer && { referrer: c.referrer }), ...(c.userAgent && { user_agent: c.userAgent }), client_ip: c.clientIp,
        ...(isBot(c) && { bot: true }),
      },
    }));
    expect([...events]).toEqual(expected);

    // Expected rollups, counted here one click at a time: "key clicks bot_clicks".
    const tally = (key: (c: Click) => string) => {
      const counts = new Map<string, [number, number]>();
      for (const c of [...clicks, ...clicks.slice(0, 150)]) {
        const [n, bots] = counts.get(key(c)) ?? [0, 0];
        counts.set(key(c), [n + 1, bots + (isBot(c) ? 1 : 0)]);
      }
      return [...counts].map(([k, [n, bots]]) => `${k} ${n} ${bots}`).sort();
    };
    const day = (c: Click) => c.at.toISOString().slice(0, 10);
    const host = (c: Click) => (c.referrer ? new URL(c.referrer).hostname.toLowerCase() : "(direct)");
    const family = (c: Click) => (c.userAgent === undefined ? "(none)" : c.userAgent.startsWith("curl") ? "curl" : "firefox");
    const ids = h.deps.sql(links.map((l) => l.id));
    const rows = async (query: Promise<{ k: string }[]>) => (await query).map((r) => r.k).sort();
    expect(await rows(h.deps.sql`select url_id || ' ' || day || ' ' || clicks || ' ' || bot_clicks as k from click_daily where url_id in ${ids}`))
      .toEqual(tally((c) => `${c.urlId} ${day(c)}`));
    expect(await rows(h.deps.sql`select url_id || ' ' || day || ' ' || referrer || ' ' || clicks || ' ' || bot_clicks as k from click_referrers where url_id in ${ids}`))
      .toEqual(tally((c) => `${c.urlId} ${day(c)} ${host(c)}`));
    expect(await rows(h.deps.sql`select url_id || ' ' || day || ' ' || agent || ' ' || clicks || ' ' || bot_clicks as k from click_agents where url_id in ${ids}`))
      .toEqual(tally((c) => `${c.urlId} ${day(c)} ${family(c)}`));
  }, 30_000);

  test("a link deleted before its clicks are written: its clicks are skipped, every other click of the batch is written", async () => {
    const userId = (await h.request("POST", "/users", { body: { username: "gone", email: "gone@example.com" } })).json.id;
    const [kept, gone] = await Promise.all(["kept", "gone"].map(async (n) =>
      (await h.request("POST", "/urls", { body: { user_id: userId, original_url: `https://gone.example/${n}` } })).json as { id: number; short_code: string }));
    expect((await h.request("DELETE", `/urls/${gone!.id}`)).status).toBe(204);
    const at = new Date("2024-03-04T05:06:07.000Z");
    const clicks: Click[] = Array.from({ length: 10 }, (_, i) => {
      const link = i % 2 === 0 ? kept! : gone!;
      return { id: crypto.randomUUID(), urlId: link.id, shortCode: link.short_code, at, userAgent: `agent-${i}` };
    });
    const repo = createClicksRepo(h.deps.sql);
    expect(await repo.insertBatch(clicks)).toBe(5);
    // The old stream's drain (click receipts) skips them the same way.
    expect(await repo.insertOnce(clicks.map((c) => ({ ...c, id: crypto.randomUUID() })))).toBe(5);

    const agents = await h.deps.sql<{ url_id: number; ua: string }[]>`
      select url_id, details->>'user_agent' as ua from events where event_type = 'clicked' and url_id in ${h.deps.sql([kept!.id, gone!.id])} order by id`;
    const keptAgents = [0, 2, 4, 6, 8].map((i) => ({ url_id: kept!.id, ua: `agent-${i}` }));
    expect([...agents]).toEqual([...keptAgents, ...keptAgents]);
    const daily = await h.deps.sql`select url_id, day::text as day, clicks from click_daily where url_id in ${h.deps.sql([kept!.id, gone!.id])}`;
    expect([...daily]).toEqual([{ url_id: kept!.id, day: "2024-03-04", clicks: 10 }]);
  }, 30_000);

  // The shipper tells a click PostgreSQL will never take (SQLSTATE class 22) from an outage by the
  // code of the error its batch fails with; the pipelined rollup upsert must not mask it.
  test("a click PostgreSQL refuses as data fails its batch with that data error, and nothing of the batch is written", async () => {
    const userId = (await h.request("POST", "/users", { body: { username: "refused", email: "refused@example.com" } })).json.id;
    const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://refused.example/" } })).json;
    const click = (userAgent: string): Click => ({ id: crypto.randomUUID(), urlId: url.id, shortCode: url.short_code, at: new Date(), userAgent });
    const failure = await createClicksRepo(h.deps.sql).insertBatch([click("fine"), click("nul \u0000 past the header filter")]).catch((e: unknown) => e);
    expect((failure as { code?: string }).code).toBe("22P05");
    const [row] = await h.deps.sql<{ n: number }[]>`select (select count(*) from events where url_id = ${url.id} and event_type = 'clicked')
      + (select count(*) from click_daily where url_id = ${url.id}) as n`;
    expect(Number(row!.n)).toBe(0);
  }, 30_000);
});
