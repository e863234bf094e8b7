import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { MULTIPART_BODY_LIMIT } from "../http/body-limits.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

function upload(content: string | Uint8Array, opts: { key?: string | null; part?: string } = {}) {
  const form = new FormData();
  form.append(opts.part ?? "file", new File([content], "users.csv", { type: "text/csv" }));
  return h.request("POST", "/users/bulk", { raw: form, key: opts.key });
}

const utf8 = (text: string) => [...new TextEncoder().encode(text)];
const usernames = async (prefix: string) =>
  (await h.deps.sql<{ username: string }[]>`select username from users where username like ${`${prefix}%`} order by id`).map((r) => r.username);
const userCount = async () => (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from users`)[0]!.n;
const EMAIL_RULE = `Expected string to match '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$'`;

describe("POST /users/bulk skips bad rows and keeps the good ones", () => {
  test("short, long, empty-field and invalid rows are skipped by line with a reason", async () => {
    const csv = [
      "username,email",
      "row-ok1,ok1@example.com",
      "row-short",
      "row-long,long@example.com,extra",
      ",empty-name@example.com",
      "row-empty-mail,",
      "   ,blank@example.com",
      "row-bad-mail,no-at-sign",
      `${"x".repeat(256)},toolong@example.com`,
      "row-ok2,ok2@example.com",
    ].join("\n");
    const res = await upload(csv);
    expect(res.status, show(res)).toBe(201);
    expect(res.json).toEqual({
      imported: 2, skipped: 7, errors_truncated: false,
      errors: [
        { line: 3, reason: "has 1 fields but the header has 2 (short row)" },
        { line: 4, reason: "has 3 fields but the header has 2 (long row)" },
        { line: 5, reason: "username is empty" },
        { line: 6, reason: "email is empty" },
        { line: 7, reason: `invalid username "   ": Expected string to match '\\S'` },
        { line: 8, reason: `invalid email "no-at-sign": ${EMAIL_RULE}` },
        { line: 9, reason: `invalid username "${"x".repeat(60)}…": Expected string length less or equal to 255` },
      ],
    });
    expect(await usernames("row-")).toEqual(["row-ok1", "row-ok2"]);
  });

  test("a row repeating an earlier row's username or email is skipped, naming that line", async () => {
    const res = await upload("username,email\ndup-a,a@dup.example\ndup-a,other@dup.example\ndup-b,a@dup.example\ndup-c,c@dup.example\n");
    expect(res.status, show(res)).toBe(201);
    expect(res.json).toEqual({
      imported: 2, skipped: 2, errors_truncated: false,
      errors: [
        { line: 3, reason: 'username "dup-a" repeats line 2' },
        { line: 4, reason: 'email "a@dup.example" repeats line 2' },
      ],
    });
    expect(await usernames("dup-")).toEqual(["dup-a", "dup-c"]);
  });

  test("a row naming an existing user's username or email is skipped; nothing about that user changes", async () => {
    const first = await h.request("POST", "/users", { body: { username: "exists", email: "exists@example.com" } });
    expect(first.status, show(first)).toBe(201);
    const res = await upload("username,email\nexists,new@example.com\nnew-name,exists@example.com\nnot-yet,not-yet@example.com\n");
    expect(res.status, show(res)).toBe(201);
    expect(res.json).toEqual({
      imported: 1, skipped: 2, errors_truncated: false,
      errors: [
        { line: 2, reason: 'username "exists" already exists' },
        { line: 3, reason: 'email "exists@example.com" already exists' },
      ],
    });
    const again = await h.request("GET", `/users/${first.json.id}`);
    expect(again.json, show(again)).toEqual(first.json);
    expect(await usernames("new-name")).toEqual([]);
    expect(await usernames("not-yet")).toEqual(["not-yet"]);
  });

  test("a row with bytes that are not UTF-8 is skipped; the rows around it go in", async () => {
    const bytes = new Uint8Array([
      ...utf8("username,email\nutf-ok1,utf1@example.com\nutf-"), 0xe9, ...utf8("t\u00e9,latin1@example.com\nutf-\u00e9\u20ac,utf2@example.com\n"),
    ]);
    const res = await upload(bytes);
    expect(res.status, show(res)).toBe(201);
    expect(res.json).toEqual({ imported: 2, skipped: 1, errors: [{ line: 3, reason: "contains bytes that are not valid UTF-8" }], errors_truncated: false });
    expect(await usernames("utf-")).toEqual(["utf-ok1", "utf-\u00e9\u20ac"]);
  });

  test("a NUL character, which PostgreSQL cannot store, skips its row instead of failing the batch", async () => {
    const res = await upload("username,email\nnul-a\u0000,nul@example.com\nnul-b,nulb@example.com\n");
    expect(res.json, show(res)).toEqual({
      imported: 1, skipped: 1, errors: [{ line: 2, reason: "contains a NUL character, which the database cannot store" }], errors_truncated: false,
    });
    expect(await usernames("nul-")).toEqual(["nul-b"]);
  });

  test("lists the first 100 skipped rows and says that there were more", async () => {
    const rows = Array.from({ length: 150 }, (_, i) => `cap-${i},bad-${i}`);
    const res = await upload(`username,email\n${rows.join("\n")}\ncap-ok,cap-ok@example.com\n`);
    expect(res.status, show(res)).toBe(201);
    expect(res.json.imported).toBe(1);
    expect(res.json.skipped).toBe(150);
    expect(res.json.errors_truncated).toBe(true);
    expect(res.json.errors).toHaveLength(100);
    expect(res.json.errors[0]).toEqual({ line: 2, reason: `invalid email "bad-0": ${EMAIL_RULE}` });
    expect(res.json.errors[99].line).toBe(101);
  });
});

describe("POST /users/bulk refuses unusable uploads whole", () => {
  const refused = async (res: Awaited<ReturnType<typeof upload>>, status: number, error: string, message: string) => {
    expect(res.status, show(res)).toBe(status);
    expect(res.json, show(res)).toEqual({ error, message, ...(status === 413 ? { limit_bytes: expect.any(Number) } : {}) });
  };

  test("400 for an empty (0-byte) file", async () => {
    await refused(await upload(""), 400, "Bad Request", "the file is empty (0 bytes)");
  });

  test("400 when the header lacks email (or username), and nothing is imported", async () => {
    const before = await userCount();
    await refused(await upload("username,mail\nnomail,nomail@example.com\n"), 400, "Bad Request",
      "the header lacks email; the first line must name the columns, e.g. username,email");
    await refused(await upload("\n\nid,email\n1,x@example.com\n"), 400, "Bad Request",
      "the header lacks username; the first line must name the columns, e.g. username,email");
    expect(await userCount()).toBe(before);
  });

  const NO_FILE = { error: "Bad Request", message: "body field 'file': Expected kind 'File'", fields: [{ field: "file", message: "Expected kind 'File'" }] };

  test("400 when there is no part named file, or it is text instead of a file", async () => {
    const missing = await upload("username,email\n", { part: "upload" });
    expect(missing.status, show(missing)).toBe(400);
    expect(missing.json).toEqual(NO_FILE);
    const form = new FormData();
    form.append("file", "username,email\ntext-part,text@example.com\n");
    const text = await h.request("POST", "/users/bulk", { raw: form });
    expect(text.status, show(text)).toBe(400);
    expect(text.json).toEqual(NO_FILE);
    expect(await usernames("text-part")).toEqual([]);
  });

  test("400 for a body that is not multipart/form-data", async () => {
    // app.ts's global body parser answers first for any non-multipart type.
    const csv = await h.request("POST", "/users/bulk", { raw: "username,email\ncsv,csv@example.com\n", headers: { "content-type": "text/csv" } });
    await refused(csv, 400, "Bad Request", "request body must be application/json (multipart/form-data for CSV uploads), not text/csv");
    const json = await h.request("POST", "/users/bulk", { body: { file: "username,email\ncsv-json,j@example.com\n" } });
    expect(json.status, show(json)).toBe(400);
    expect(json.json).toEqual(NO_FILE);
    const none = await h.request("POST", "/users/bulk");
    await refused(none, 400, "Bad Request", 'the body must be multipart/form-data with the CSV in a part named "file"');
    const broken = await h.request("POST", "/users/bulk", { raw: "not multipart at all", headers: { "content-type": "multipart/form-data; boundary=zzz" } });
    await refused(broken, 400, "Bad Request", "the multipart/form-data body could not be parsed");
    expect(await usernames("csv")).toEqual([]);
  });

  test("413 for a file over 10 MiB, and for a Content-Length over the limit before reading anything", async () => {
    const big = `username,email\n${"x".repeat(MULTIPART_BODY_LIMIT)}\n`;
    await refused(await upload(big), 413, "Payload Too Large", `the file is larger than ${MULTIPART_BODY_LIMIT} bytes`);
    const declared = await h.request("POST", "/users/bulk", {
      raw: "tiny", headers: { "content-type": "multipart/form-data; boundary=zzz", "content-length": String(MULTIPART_BODY_LIMIT * 2) },
    });
    const envelope = MULTIPART_BODY_LIMIT + 64 * 1024;
    await refused(declared, 413, "Payload Too Large", `request body is larger than ${envelope} bytes`);
    // Past the multipart envelope the body itself is refused while it is read.
    await refused(await upload("x".repeat(MULTIPART_BODY_LIMIT + 100 * 1024)), 413, "Payload Too Large", `request body is larger than ${envelope} bytes`);
  });

  test("403 for a user key, 401 without a key; nothing is imported", async () => {
    const { id } = (await h.deps.sql<{ id: number }[]>`insert into users (username, email) values ('keyholder', 'keyholder@example.com') returning id`)[0]!;
    const userKey = await h.insertKey("user", id);
    const forbidden = await upload("username,email\nby-user,by-user@example.com\n", { key: userKey });
    expect(forbidden.status, show(forbidden)).toBe(403);
    expect(forbidden.json).toEqual({ error: "Forbidden", message: "this needs an admin key" });
    const anonymous = await upload("username,email\nby-anon,by-anon@example.com\n", { key: null });
    expect(anonymous.status, show(anonymous)).toBe(401);
    expect(await usernames("by-")).toEqual([]);
  });
});
