import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

/** POST /users/bulk with `content` as the part `file`, as a browser or curl -F would send it. */
function upload(app: TestApp, content: string | Uint8Array, opts: { key?: string | null; part?: string } = {}) {
  const form = new FormData();
  form.append(opts.part ?? "file", new File([content], "users.csv", { type: "text/csv" }));
  return app.request("POST", "/users/bulk", { raw: form, key: opts.key });
}

const usersNamed = async (prefix: string) => [...await h.deps.sql<{ username: string; email: string; created_at: string }[]>`
  select username, email, created_at from users where username like ${`${prefix}%`} order by id`];

const NOW = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/;

describe("POST /users/bulk", () => {
  test("imports every row of a good file and reports the count", async () => {
    const res = await upload(h, "username,email\ngood-a,a@example.com\ngood-b,b@example.com\n");
    expect(res.status, show(res)).toBe(201);
    expect(res.json).toEqual({ imported: 2, skipped: 0, errors: [], errors_truncated: false });
    expect(await usersNamed("good-")).toEqual([
      { username: "good-a", email: "a@example.com", created_at: expect.stringMatching(NOW) },
      { username: "good-b", email: "b@example.com", created_at: expect.stringMatching(NOW) },
    ]);
  });

  test("the imported users are served by GET /users/:id like any other", async () => {
    const res = await upload(h, "username,email,created_at\nserved,served@example.com,2024-03-10 12:15:09\n");
    expect(res.json, show(res)).toEqual({ imported: 1, skipped: 0, errors: [], errors_truncated: false });
    const { id } = (await h.deps.sql<{ id: number }[]>`select id from users where username = 'served'`)[0]!;
    const user = await h.request("GET", `/users/${id}`);
    expect(user.json, show(user)).toEqual({ id, username: "served", email: "served@example.com", created_at: "2024-03-10T12:15:09" });
  });

  test("reads a BOM, CRLF line ends and header names in any case, order and padding; ignores id and other columns", async () => {
    const csv = "\uFEFF Email ,ID,USERNAME,Created_At,nickname\r\n" +
      "bom-a@example.com,999,bom-a,2024-03-10T12:15:09Z,x\r\n" +
      "bom-b@example.com,1,bom-b,not a date,y\r\n";
    const res = await upload(h, csv);
    expect(res.status, show(res)).toBe(201);
    expect(res.json).toEqual({ imported: 2, skipped: 0, errors: [], errors_truncated: false });
    const rows = [...await h.deps.sql<{ id: number; username: string; created_at: string }[]>`
      select id, username, created_at from users where username like 'bom-%' order by id`];
    expect(rows).toEqual([
      { id: expect.any(Number), username: "bom-a", created_at: "2024-03-10 12:15:09" },
      { id: expect.any(Number), username: "bom-b", created_at: expect.stringMatching(NOW) }, // unreadable created_at: now
    ]);
    expect(rows.map((r) => r.id)).not.toContain(999);
  });

  test("keeps commas, quotes and line breaks inside quoted fields, and counts lines across them", async () => {
    const csv = 'username,email\n"q,comma",comma@example.com\n"q ""quoted""",quoted@example.com\n"q multi\nline",multi@example.com\n"q bad\nmail",not-an-email\n';
    const res = await upload(h, csv);
    expect(res.status, show(res)).toBe(201);
    expect(res.json).toEqual({
      imported: 3, skipped: 1, errors_truncated: false,
      errors: [{ line: 6, reason: `invalid email "not-an-email": Expected string to match '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$'` }],
    });
    expect((await usersNamed("q ")).map((u) => u.username).concat((await usersNamed("q,")).map((u) => u.username)))
      .toEqual(['q "quoted"', "q multi\nline", "q,comma"]);
  });

  test("a header-only file imports nothing and is still a success", async () => {
    const res = await upload(h, "username,email\r\n");
    expect(res.status, show(res)).toBe(201);
    expect(res.json).toEqual({ imported: 0, skipped: 0, errors: [], errors_truncated: false });
  });

  test("stores names and emails exactly as sent, without trimming", async () => {
    const res = await upload(h, "username,email\n  padded  ,padded@example.com\n");
    expect(res.json, show(res)).toEqual({ imported: 1, skipped: 0, errors: [], errors_truncated: false });
    expect(await usersNamed("  padded")).toEqual([{ username: "  padded  ", email: "padded@example.com", created_at: expect.stringMatching(NOW) }]);
  });

  test("a large file goes in whole, across many batches", async () => {
    const rows = Array.from({ length: 5000 }, (_, i) => `big-${i},big-${i}@example.com`);
    const res = await upload(h, `username,email\n${rows.join("\n")}\n`);
    expect(res.json, show(res)).toEqual({ imported: 5000, skipped: 0, errors: [], errors_truncated: false });
    const { n } = (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from users where username like 'big-%'`)[0]!;
    expect(n).toBe(5000);
  });
});
