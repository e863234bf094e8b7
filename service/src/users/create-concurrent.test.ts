/**
 * POST /users under concurrency: among requests racing for one username or email exactly one
 * wins, each loser gets the 409 naming the field it lost on, and nothing else is written.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

test("200 creates at once, 80 of them racing another for its username or its email", async () => {
  // 120 distinct users; 40 requests reuse the username of users 0..39, 40 the email of users 40..79.
  const bodies = Array.from({ length: 120 }, (_, i) => ({ username: `racer${i}`, email: `racer${i}@example.com` }));
  const rivals = [
    ...Array.from({ length: 40 }, (_, i) => ({ body: { username: `racer${i}`, email: `rival${i}@example.com` }, over: i, field: "username" })),
    ...Array.from({ length: 40 }, (_, i) => ({ body: { username: `rival${40 + i}`, email: `racer${40 + i}@example.com` }, over: 40 + i, field: "email" })),
  ];
  const all = [...bodies.map((body) => ({ body })), ...rivals];
  const answers = await Promise.all(all.map((r) => h.request("POST", "/users", { body: r.body })));

  const won = new Map<string, { id: number; username: string; email: string }>();
  answers.forEach((res, i) => {
    if (res.status === 201) {
      expect(res.json, show(res)).toEqual({ id: expect.any(Number), username: all[i]!.body.username, email: all[i]!.body.email, created_at: expect.any(String) });
      won.set(`${res.json.username} ${res.json.email}`, res.json);
    }
  });
  // Users 80..119 raced nobody; every rival pair has exactly one winner and one 409 naming the field.
  for (let i = 80; i < 120; i++) expect(answers[i]!.status, show(answers[i]!)).toBe(201);
  rivals.forEach((rival, k) => {
    const mine = answers[120 + k]!;
    const theirs = answers[rival.over]!;
    expect([mine.status, theirs.status].sort(), `${show(mine)} / ${show(theirs)}`).toEqual([201, 409]);
    const loser = mine.status === 409 ? mine : theirs;
    expect(loser.json).toEqual({ error: "Conflict", message: `${rival.field} is already taken` });
  });
  expect(won.size).toBe(120);

  const rows = await h.deps.sql<{ id: number; username: string; email: string }[]>`
    select id, username, email from users where username like 'racer%' or username like 'rival%' order by id`;
  expect([...rows]).toEqual([...won.values()].map(({ id, username, email }) => ({ id, username, email })).sort((a, b) => a.id - b.id));
}, 60_000);
