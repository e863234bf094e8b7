/**
 * POST /urls with `alias` (issue #18): the client's own code, case-sensitive, never a path of the
 * API, never a code a live or deleted link has or had; racing requests for one alias get exactly
 * one 201, on a real listening server.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp, type App } from "../app.ts";
import { show, testApp, type TestApp, type TestResponse } from "../../test/harness.ts";
import { waitFor } from "../../test/wait.ts";
import { isCodeShaped } from "../redirect/model.ts";
import { RESERVED_SEGMENTS } from "../redirect/reserved-segments.ts";
import { ALIAS_PATTERN } from "./options.ts";
import { DELETE_URL_SQL } from "./statements.ts";

let h: TestApp;
let userId: number;
beforeAll(async () => {
  h = await testApp();
  userId = (await h.request("POST", "/users", { body: { username: "aliases", email: "aliases@example.com" } })).json.id;
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const create = (body: Record<string, unknown>, key?: string) =>
  h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://alias.example/", ...body }, key });

/** Rows of urls and of the events a write records: what a refused request must leave as it was (clicks ship on their own time). */
const written = async () =>
  (await h.deps.sql<{ links: number; events: number }[]>`select (select count(*) from urls)::int as links, (select count(*) from events where event_type <> 'clicked')::int as events`)[0]!;

const linksWithCode = async (code: string) =>
  (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from urls where short_code = ${code}`)[0]!.n;

function expectConflict(res: TestResponse, reason: "taken" | "retired", alias: string) {
  expect(res.status, show(res)).toBe(409);
  expect(res.json).toEqual({
    error: "Conflict",
    message: reason === "taken" ? `alias taken: '${alias}' is the short code of another link`
      : `alias retired: '${alias}' was the short code of a deleted link, and codes are never reused`,
    field: "alias",
    reason,
  });
}

describe("POST /urls with an alias", () => {
  test("the link gets that code, redirects from it byte for byte, and its created event names it", async () => {
    const res = await create({ alias: "spring-sale", original_url: "https://alias.example/Spring?a=1&b=%41#x" });
    expect(res.status, show(res)).toBe(201);
    expect(res.json).toMatchObject({ short_code: "spring-sale", original_url: "https://alias.example/Spring?a=1&b=%41#x", is_active: true });
    expect((await h.request("GET", `/urls/${res.json.id}`)).json).toEqual(res.json);
    const visit = await h.request("GET", "/spring-sale", { key: null });
    expect(visit.status, show(visit)).toBe(302);
    expect(visit.headers.get("location")).toBe("https://alias.example/Spring?a=1&b=%41#x");
    const events = await h.request("GET", `/events?url_id=${res.json.id}&event_type=created`);
    expect(events.json.map((e: { details: unknown }) => e.details)).toEqual([
      { short_code: "spring-sale", original_url: "https://alias.example/Spring?a=1&b=%41#x" },
    ]);
  });

  test("is case-sensitive, like generated codes: Promo1 and promo1 are two links", async () => {
    const upper = await create({ alias: "Promo1", original_url: "https://alias.example/upper" });
    const lower = await create({ alias: "promo1", original_url: "https://alias.example/lower" });
    expect([upper.status, lower.status], `${show(upper)} ${show(lower)}`).toEqual([201, 201]);
    expect((await h.request("GET", "/Promo1", { key: null })).headers.get("location")).toBe("https://alias.example/upper");
    expect((await h.request("GET", "/promo1", { key: null })).headers.get("location")).toBe("https://alias.example/lower");
  });

  test("4 and 16 characters are accepted, and every alias the pattern admits is a code the redirect looks up", async () => {
    for (const alias of ["abcd", "A-b_", "____", "0123456789abcdef"]) {
      const res = await create({ alias });
      expect(res.status, `${alias}: ${show(res)}`).toBe(201);
      expect(res.json.short_code).toBe(alias);
      expect(isCodeShaped(alias)).toBe(true);
    }
    expect(ALIAS_PATTERN).toBe("^[A-Za-z0-9_-]{4,16}$");
  });

  test("a client short_code next to an alias is ignored; the alias is the code", async () => {
    const res = await create({ alias: "chosen1", short_code: "ignored1" });
    expect(res.status, show(res)).toBe(201);
    expect(res.json.short_code).toBe("chosen1");
    expect(await linksWithCode("ignored1")).toBe(0);
  });

  test("an unknown owner is 404 and writes nothing", async () => {
    const before = await written();
    const res = await h.request("POST", "/urls", { body: { user_id: 987_654, original_url: "https://alias.example/", alias: "noowner" } });
    expect(res.status, show(res)).toBe(404);
    expect(res.json).toEqual({ error: "Not Found", message: "user 987654 not found" });
    expect(await written()).toEqual(before);
  });
});

describe("aliases that cannot be had", () => {
  test("a path of the API, in any letter case, is 400 naming the reason, and nothing is written", async () => {
    const before = await written();
    const words = [...RESERVED_SEGMENTS].flatMap((s) => [s, s.toUpperCase(), s[0]!.toUpperCase() + s.slice(1)]);
    expect(words).toEqual(expect.arrayContaining(["health", "docs", "users", "urls", "events", "metrics", "METRICS", "Docs"]));
    for (const alias of words) {
      const res = await create({ alias });
      expect(res.status, `${alias}: ${show(res)}`).toBe(400);
      expect(res.json).toEqual({
        error: "Bad Request",
        message: `body field 'alias' '${alias}' is reserved: /${alias.toLowerCase()} is a path of the API, in any letter case`,
        fields: [{ field: "alias", message: `'${alias}' is reserved: /${alias.toLowerCase()} is a path of the API, in any letter case` }],
      });
    }
    expect(await written()).toEqual(before);
  });

  test("anything but 4 to 16 of A-Z a-z 0-9 _ - is 400 naming alias, and nothing is written", async () => {
    const before = await written();
    const hostile: unknown[] = [
      "", "abc", "a".repeat(17), "a/bcd", "../etc", "/health", "docs/json", "abc%2F", "%41%42%43%44", "ab%cd", "a.bcd", "a bcd", " abcd", "abcd\n",
      "abcd\u0000", "ünïcode", "短縮リンク短縮", "emoji😀ab", "ＡＢＣＤ", "abc\u200bd", "abcd?x=1", "abcd#x", "ab\\cd", "<script>",
      5, 12345, true, null, [], ["abcd"], {},
    ];
    for (const alias of hostile) {
      const res = await create({ alias });
      expect(res.status, `${JSON.stringify(alias)}: ${show(res)}`).toBe(400);
      expect(res.json.error).toBe("Bad Request");
      expect(res.json.message, JSON.stringify(alias)).toContain("alias");
    }
    expect(await written()).toEqual(before);
  });

  test("a code a live link has, chosen or generated, is 409 taken, and nothing is written", async () => {
    const first = await create({ alias: "taken01" });
    expect(first.status, show(first)).toBe(201);
    const generated = (await create({})).json.short_code as string;
    const before = await written();
    expectConflict(await create({ alias: "taken01", original_url: "https://alias.example/other" }), "taken", "taken01");
    expectConflict(await create({ alias: generated }), "taken", generated);
    expect(await written()).toEqual(before);
    expect((await h.request("GET", "/taken01", { key: null })).headers.get("location")).toBe("https://alias.example/");
  });

  test("a code a deleted link had is 409 retired, whether it was chosen or generated", async () => {
    const chosen = (await create({ alias: "gone0001" })).json;
    const generated = (await create({})).json;
    for (const link of [chosen, generated]) expect((await h.request("DELETE", `/urls/${link.id}`)).status).toBe(204);
    const before = await written();
    expectConflict(await create({ alias: "gone0001" }), "retired", "gone0001");
    expectConflict(await create({ alias: generated.short_code }), "retired", generated.short_code);
    expect(await written()).toEqual(before);
  });

  test("a code retired while the create waited for the delete's lock is still 409 retired", async () => {
    // The delete holds the row; the create's insert waits for it, then finds the code free,
    // while its own snapshot is older than the retirement. Only the re-check sees it.
    const victim = (await create({ alias: "raced01" })).json;
    let answer: Promise<TestResponse> | undefined;
    await h.deps.sql.begin(async (tx) => {
      await tx.unsafe(DELETE_URL_SQL, [victim.id]);
      answer = create({ alias: "raced01", original_url: "https://alias.example/hijack" });
      await waitFor("the create to wait for the delete's lock", async () =>
        (await h.deps.sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity
          where wait_event_type = 'Lock' and query like '%insert into urls%' and datname = current_database()`)[0]!.n > 0, 10_000);
    });
    expectConflict(await answer!, "retired", "raced01");
    expect(await linksWithCode("raced01")).toBe(0);
    const follow = await h.request("GET", "/raced01", { key: null });
    expect(follow.status, show(follow)).toBe(404);
  });
});

describe("racing requests for one alias on a real server", () => {
  let server: App;
  let base: string;
  beforeAll(() => {
    server = createApp(h.deps).listen({ port: 0, hostname: "127.0.0.1" });
    base = `http://127.0.0.1:${server.server!.port}`;
  });
  afterAll(async () => { await server?.stop(true); });

  test("20 at once: exactly one 201, nineteen 409 taken, never a 5xx; one link and one created event", async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const res = await fetch(`${base}/urls`, {
        method: "POST",
        headers: { authorization: `Bearer ${h.adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ user_id: userId, original_url: `https://race.example/${i}`, alias: "race-for-it" }),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, json: JSON.parse(text) } satisfies TestResponse;
    }));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([201, ...Array<number>(19).fill(409)]);
    const winner = answers.find((a) => a.status === 201)!;
    expect(winner.json.short_code).toBe("race-for-it");
    for (const loser of answers.filter((a) => a.status === 409)) expectConflict(loser, "taken", "race-for-it");
    const rows = await h.deps.sql<{ id: number; original_url: string }[]>`select id, original_url from urls where short_code = 'race-for-it'`;
    expect([...rows]).toEqual([{ id: winner.json.id, original_url: winner.json.original_url }]);
    const [events] = await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where url_id = ${winner.json.id} and event_type = 'created'`;
    expect(events!.n).toBe(1);
    const visit = await fetch(`${base}/race-for-it`, { redirect: "manual" });
    expect(visit.status).toBe(302);
    expect(visit.headers.get("location")).toBe(winner.json.original_url);
  }, 30_000);
});

describe("a user-scoped key", () => {
  test("may give its own links an alias, and is 403 for another user's without taking the alias", async () => {
    const other = (await h.request("POST", "/users", { body: { username: "alias-other", email: "alias-other@example.com" } })).json.id;
    const key = await h.insertKey("user", userId);
    const mine = await create({ alias: "mine-only" }, key);
    expect(mine.status, show(mine)).toBe(201);
    expect(mine.json).toMatchObject({ user_id: userId, short_code: "mine-only" });
    const before = await written();
    const theirs = await h.request("POST", "/urls", { key, body: { user_id: other, original_url: "https://alias.example/", alias: "not-mine" } });
    expect(theirs.status, show(theirs)).toBe(403);
    expect(theirs.json.error).toBe("Forbidden");
    expect(await written()).toEqual(before);
    expect((await h.request("POST", "/urls", { body: { user_id: other, original_url: "https://alias.example/", alias: "not-mine" } })).status).toBe(201);
  });
});
