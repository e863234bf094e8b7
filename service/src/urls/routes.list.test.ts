import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";

const TS = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/);
const CODE = expect.stringMatching(/^[A-Za-z0-9]{6}$/);

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

async function newUser(name: string): Promise<number> {
  const res = await h.request("POST", "/users", { body: { username: name, email: `${name}@example.com` } });
  expect(res.status, show(res)).toBe(201);
  return res.json.id;
}

describe("GET /urls", () => {
  let other: number;
  let ids: number[];
  beforeAll(async () => {
    other = await newUser("lister");
    ids = [];
    for (let i = 0; i < 5; i++) {
      const res = await h.request("POST", "/urls", { body: { user_id: other, original_url: `https://list.example/${i}` } });
      ids.push(res.json.id);
    }
    await h.request("PUT", `/urls/${ids[1]}`, { body: { is_active: false } });
    await h.request("PUT", `/urls/${ids[3]}`, { body: { is_active: false } });
  }, 30_000);

  const idsOf = (res: { json: { id: number }[] }) => res.json.map((u) => u.id);

  test("filters by user_id, ordered by id", async () => {
    const res = await h.request("GET", `/urls?user_id=${other}`);
    expect(res.status, show(res)).toBe(200);
    expect(idsOf(res)).toEqual(ids);
    expect(res.json[0]).toEqual({
      id: ids[0], user_id: other, short_code: CODE, original_url: "https://list.example/0", title: null, is_active: true, created_at: TS, updated_at: TS,
      expires_at: null, max_clicks: null, forward_query: false,
    });
  });

  test("filters by is_active, alone and with user_id", async () => {
    const inactive = await h.request("GET", `/urls?user_id=${other}&is_active=false`);
    expect(idsOf(inactive), show(inactive)).toEqual([ids[1]!, ids[3]!]);
    const active = await h.request("GET", `/urls?is_active=true&user_id=${other}`);
    expect(idsOf(active), show(active)).toEqual([ids[0]!, ids[2]!, ids[4]!]);
    const allInactive = await h.request("GET", "/urls?is_active=false&per_page=100");
    expect(allInactive.json.every((u: { is_active: boolean }) => !u.is_active), show(allInactive)).toBe(true);
    expect(idsOf(allInactive)).toEqual(expect.arrayContaining([ids[1]!, ids[3]!]));
  });

  test("pages through the results", async () => {
    const page2 = await h.request("GET", `/urls?user_id=${other}&per_page=2&page=2`);
    expect(idsOf(page2), show(page2)).toEqual([ids[2]!, ids[3]!]);
    const past = await h.request("GET", `/urls?user_id=${other}&per_page=2&page=9`);
    expect(past.status, show(past)).toBe(200);
    expect(past.json).toEqual([]);
  });

  test("clamps page below 1 to 1 and per_page to 1..100", async () => {
    expect(idsOf(await h.request("GET", `/urls?user_id=${other}&page=0&per_page=2`))).toEqual([ids[0]!, ids[1]!]);
    expect(idsOf(await h.request("GET", `/urls?user_id=${other}&page=-3&per_page=0`))).toEqual([ids[0]!]);
    const many = await newUser("many-links");
    await Promise.all(Array.from({ length: 101 }, (_, i) =>
      h.request("POST", "/urls", { body: { user_id: many, original_url: `https://many.example/${i}` } })));
    const all = await h.request("GET", `/urls?user_id=${many}&per_page=1000`);
    expect(all.json.length, show(all)).toBe(100);
    const dflt = await h.request("GET", `/urls?user_id=${many}`);
    expect(dflt.json.length, show(dflt)).toBe(20);
    expect(idsOf(dflt)).toEqual([...idsOf(dflt)].sort((a, b) => a - b));
  });

  test("an unknown or out-of-range user_id lists nothing", async () => {
    for (const q of ["999999", "2147483648", "99999999999999999999", "0", "-1"]) {
      const res = await h.request("GET", `/urls?user_id=${q}`);
      expect(res.status, `${q}: ${show(res)}`).toBe(200);
      expect(res.json).toEqual([]);
    }
  });
});
