/**
 * Creates coalesced into one statement per batch (repo.insertMany, service.ts): every request
 * gets exactly its own answer, a failure stays with its request, and exactly the answered links
 * and their `created` events are written.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { codesInOrder as codes, show, testApp, type TestApp, type TestResponse } from "../../test/harness.ts";
import { createUrlsRepo } from "./repo.ts";

const TS = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/);
const CODE = expect.stringMatching(/^[A-Za-z0-9]{6}$/);

let h: TestApp;
let owners: number[];
beforeAll(async () => {
  h = await testApp();
  owners = [];
  for (let i = 0; i < 5; i++) {
    const res = await h.request("POST", "/users", { body: { username: `batch${i}`, email: `batch${i}@example.com` } });
    expect(res.status, show(res)).toBe(201);
    owners.push(res.json.id);
  }
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

interface Sent { userId: number; url: string; title: string | null; missing: boolean }

async function linksUnder(prefix: string) {
  return h.deps.sql<{ id: number; user_id: number; short_code: string; original_url: string }[]>`
    select id, user_id, short_code, original_url from urls where original_url like ${`${prefix}%`} order by id`;
}

describe("concurrent creates", () => {
  test("300 at once, one in six for a user that does not exist: each gets its own answer, and only the 201s are written", async () => {
    const sent: Sent[] = Array.from({ length: 300 }, (_, i) => {
      const missing = i % 6 === 5;
      return { userId: missing ? 900_000 + i : owners[i % owners.length]!, url: `https://batch.example/${i}`, title: i % 3 === 0 ? null : `t${i}`, missing };
    });
    const answers: TestResponse[] = await Promise.all(sent.map((s) =>
      h.request("POST", "/urls", { body: { user_id: s.userId, original_url: s.url, ...(s.title === null ? {} : { title: s.title }) } })));

    sent.forEach((s, i) => {
      const res = answers[i]!;
      if (s.missing) {
        expect({ status: res.status, body: res.json }, show(res)).toEqual({ status: 404, body: { error: "Not Found", message: `user ${s.userId} not found` } });
      } else {
        expect(res.status, show(res)).toBe(201);
        expect(res.json).toEqual({
          id: expect.any(Number), user_id: s.userId, short_code: CODE, original_url: s.url, title: s.title,
          is_active: true, created_at: TS, updated_at: TS, expires_at: null, max_clicks: null, forward_query: false,
        });
      }
    });

    const created = answers.filter((r) => r.status === 201).map((r) => r.json);
    expect(created).toHaveLength(250);
    // Exactly the answered links, as answered: nothing for a 404, nothing twice.
    const rows = await linksUnder("https://batch.example/");
    expect(rows.map((r) => ({ id: r.id, user_id: r.user_id, short_code: r.short_code, original_url: r.original_url })))
      .toEqual(created.map((c) => ({ id: c.id, user_id: c.user_id, short_code: c.short_code, original_url: c.original_url })).sort((a, b) => a.id - b.id));
    const events = await h.deps.sql<{ url_id: number; user_id: number; details: Record<string, string> }[]>`
      select url_id, user_id, details from events where url_id = any(${rows.map((r) => r.id)}::int[]) order by url_id`;
    expect([...events]).toEqual(rows.map((r) => ({ url_id: r.id, user_id: r.user_id, details: { short_code: r.short_code, original_url: r.original_url } })));
    const strays = await h.deps.sql<{ n: number }[]>`
      select (select count(*) from urls where user_id >= 900000)::int + (select count(*) from events where user_id >= 900000)::int as n`;
    expect(strays[0]!.n).toBe(0);
    // They really shared statements: fewer transactions than links.
    const [tx] = await h.deps.sql<{ n: number }[]>`select count(distinct xmin::text)::int as n from urls where original_url like 'https://batch.example/%'`;
    expect(tx!.n).toBeLessThan(rows.length);
  }, 60_000);
});

describe("urls repo: insertMany", () => {
  test("a live code is drawn again, a missing owner leaves out only its own request", async () => {
    const first = await createUrlsRepo(h.deps.db, { newCode: codes("Live01") }).insert({ userId: owners[1]!, originalUrl: "https://many.example/live", title: null });
    expect(first).toMatchObject({ shortCode: "Live01" });
    await h.deps.sql`insert into retired_codes (code) values ('Retir9')`;
    const repo = createUrlsRepo(h.deps.db, { newCode: codes("Live01", "ManyA1", "Retir9", "ManyB1", "ManyC1") });
    const outcomes = await repo.insertMany([
      { userId: owners[1]!, originalUrl: "https://many.example/a", title: "a" },
      { userId: owners[2]!, originalUrl: "https://many.example/b", title: null },
      { userId: 987_654, originalUrl: "https://many.example/c", title: null },
      { userId: owners[1]!, originalUrl: "https://many.example/d", title: null },
    ]);
    expect(outcomes).toEqual([
      expect.objectContaining({ shortCode: "ManyC1", userId: owners[1], originalUrl: "https://many.example/a", title: "a" }),
      expect.objectContaining({ shortCode: "ManyA1", userId: owners[2], originalUrl: "https://many.example/b" }),
      "no-user",
      expect.objectContaining({ shortCode: "ManyB1", userId: owners[1], originalUrl: "https://many.example/d" }),
    ]);
    const rows = await linksUnder("https://many.example/");
    expect(rows.map((r) => r.short_code).sort()).toEqual(["Live01", "ManyA1", "ManyB1", "ManyC1"]);
    const [events] = await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where url_id = any(${rows.map((r) => r.id)}::int[])`;
    expect(events!.n).toBe(4);
  });

  test("a request the database refuses fails alone (the edge lets none through; the repo must not rely on it)", async () => {
    const repo = createUrlsRepo(h.deps.db);
    const inputs = Array.from({ length: 20 }, (_, i) => ({
      userId: owners[4]!, originalUrl: `https://refused.example/${i}`, title: i === 7 ? "x".repeat(300) : `ok${i}`,
    }));
    const outcomes = await repo.insertMany(inputs);
    outcomes.forEach((outcome, i) => {
      if (i === 7) expect((outcome as Error & { code?: string }).code).toBe("22001");
      else expect(outcome).toMatchObject({ originalUrl: `https://refused.example/${i}`, title: `ok${i}` });
    });
    const rows = await linksUnder("https://refused.example/");
    expect(rows.map((r) => r.original_url).sort()).toEqual(inputs.filter((_, i) => i !== 7).map((x) => x.originalUrl).sort());
    const [events] = await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where url_id = any(${rows.map((r) => r.id)}::int[])`;
    expect(events!.n).toBe(19);
  });

  test("requests that keep drawing live codes fail on their own after five attempts", async () => {
    const repo = createUrlsRepo(h.deps.db, {
      newCode: codes("Live01", "Solo01", "Live01", "Live01", "Live01", "Live01"),
    });
    const outcomes = await repo.insertMany([
      { userId: owners[3]!, originalUrl: "https://stuck.example/a", title: null },
      { userId: owners[3]!, originalUrl: "https://stuck.example/b", title: null },
    ]);
    expect(outcomes[0]).toBeInstanceOf(Error);
    expect((outcomes[0] as Error).message).toBe("no free short code after 5 attempts");
    expect(outcomes[1]).toMatchObject({ shortCode: "Solo01" });
    expect((await linksUnder("https://stuck.example/")).map((r) => r.original_url)).toEqual(["https://stuck.example/b"]);
  });
});
