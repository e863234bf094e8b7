import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { silentLogger } from "../lib/logger.ts";
import { runImportCommand } from "./cli.ts";

const seed = (name: string) => fileURLToPath(new URL(`../../seed-data/${name}`, import.meta.url));
const SEED = { users: seed("users.csv"), urls: seed("urls.csv"), events: seed("events.csv") };

let h: TestApp;
let dir: string;
beforeAll(async () => {
  h = await testApp();
  dir = await mkdtemp(join(tmpdir(), "linkfort-import-"));
}, 30_000);
afterAll(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

async function run(paths: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runImportCommand(paths, { sql: h.deps.sql, db: h.deps.db, logger: silentLogger, out: (l) => lines.push(l) });
  return { code, lines };
}

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const count = async (table: string) => (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from ${h.deps.sql(table)}`)[0]!.n;
/** Summaries carry timings; compare them without. */
const untimed = (lines: string[]) => lines.map((l) => l.replace(/ in [\d.]+ s \(\d+ rows\/s\)$/, ""));

describe("linkfort import (seed files)", () => {
  test("loads the three seed files completely, given in any order, keeping ids and resetting sequences", async () => {
    const { code, lines } = await run([SEED.events, SEED.users, SEED.urls]);
    expect(untimed(lines)).toEqual([
      `${SEED.users}: users: imported 400, skipped 0`,
      `${SEED.urls}: urls: imported 2000, skipped 0`,
      `${SEED.events}: events: imported 3422, skipped 0`,
    ]);
    expect(code).toBe(0);
    expect([await count("users"), await count("urls"), await count("events")]).toEqual([400, 2000, 3422]);

    const user = await h.request("GET", "/users/1");
    expect(user.json, show(user)).toEqual({ id: 1, username: "emberorbit96", email: "emberorbit96@acme.dev", created_at: "2024-03-10T12:15:09" });
    // postgres.js hands `timestamp` columns back as PostgreSQL prints them.
    const [url4] = await h.deps.sql`select id, user_id, short_code, original_url, title, is_active, created_at, updated_at from urls where id = 4`;
    expect(url4).toEqual({
      id: 4, user_id: 215, short_code: "9ouykD", original_url: "https://seeded.app/proud/anchor/4", title: "Demo link window",
      is_active: false, created_at: "2025-07-08 10:44:36", updated_at: "2025-10-15 04:13:43",
    });
    const events = [...await h.deps.sql`select id::int as id, url_id, user_id, event_type, timestamp, details from events where id in (1, 3422) order by id`];
    expect(events).toEqual([
      { id: 1, url_id: 1, user_id: 1, event_type: "created", timestamp: "2025-05-22 05:19:55", details: { short_code: "YUrtmo", original_url: "https://example.com/dawn/network/1" } },
      { id: 3422, url_id: 922, user_id: 251, event_type: "deleted", timestamp: "2025-05-29 21:47:26", details: { reason: "policy_cleanup" } },
    ]);
    const { n: inactive } = (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from urls where not is_active`)[0]!;
    expect(inactive).toBe(359);

    const created = await h.request("POST", "/users", { body: { username: "after-seed", email: "after-seed@example.com" } });
    expect(created.status, show(created)).toBe(201);
    expect(created.json.id).toBe(401);
    const [next] = await h.deps.sql`select nextval(pg_get_serial_sequence('urls', 'id'))::int as urls, nextval(pg_get_serial_sequence('events', 'id'))::int as events`;
    expect(next).toEqual({ urls: 2001, events: 3423 });
  });

  test("a second run skips every row as already there and says why, changing nothing", async () => {
    const { code, lines } = await run([SEED.users, SEED.urls, SEED.events]);
    expect(code).toBe(1);
    expect(lines).toHaveLength(400 + 2000 + 3422 + 3);
    expect(lines[0]).toBe(`${SEED.users}:2: skipped: id 1 already exists`);
    expect(lines).toContain(`${SEED.urls}:2001: skipped: id 2000 already exists`);
    expect(untimed(lines.slice(-1))).toEqual([`${SEED.events}: events: imported 0, skipped 3422`]);
    expect([await count("users"), await count("urls"), await count("events")]).toEqual([401, 2000, 3422]);
  });

  test("reports each bad row by line with a reason and keeps the good ones", async () => {
    const users = await file("u.csv", [
      "ID, Username ,EMAIL,created_at",
      "5001,good1,good1@example.com,2024-01-02 03:04:05",
      "5002,bad-mail,not-an-email,2024-01-02 03:04:05",
      "5003,good2,good2@example.com,yesterday",
      "1,takenid,takenid@example.com,2024-01-02 03:04:05",
      "5004,good1,other@example.com,2024-01-02 03:04:05",
      "5005,good3,good3@example.com,2024-01-02T03:04:05.123456Z",
    ].join("\n"));
    const urls = await file("l.csv", [
      "id,user_id,short_code,original_url,title,is_active,created_at,updated_at",
      "9001,5001,abc001,https://example.com/a,Title,True,2025-01-01 00:00:00,2025-01-02 00:00:00",
      "9002,5001,abc002,javascript:alert(1),T,True,2025-01-01 00:00:00,2025-01-02 00:00:00",
      "9003,77777,abc003,https://example.com/c,T,True,2025-01-01 00:00:00,2025-01-02 00:00:00",
      "9004,5001,abc004,https://example.com/d,,maybe,2025-01-01 00:00:00,2025-01-02 00:00:00",
      "9005,5001,abc005,https://example.com/e,,False,2025-01-01 00:00:00",
      "9006,5001,YUrtmo,https://example.com/f,T,True,2025-01-01 00:00:00,2025-01-02 00:00:00",
      "9007,5005,abc007,http://example.com/g,,FALSE,2025-01-01 00:00:00,2025-01-02 00:00:00",
      "9008,5001,gone01,https://example.com/h,,True,2025-01-01 00:00:00,2025-01-02 00:00:00",
    ].join("\r\n"));
    await h.deps.sql`insert into retired_codes (code) values ('gone01')`;
    const events = await file("e.csv", [
      "id,url_id,user_id,event_type,timestamp,details",
      '8001,9001,5001,created,2025-01-01 00:00:00,"{""a"":\n1}"',
      "8002,9001,5001,created,2025-01-01 00:00:00,[1]",
      "8003,9999,5001,created,2025-01-01 00:00:00,{}",
      '8004,9007,5005,clicked,2025-01-01 00:00:00,"{""n"":""\\u0000""}"',
    ].join("\n"));
    const { code, lines } = await run([urls, events, users]);
    expect(untimed(lines)).toEqual([
      `${users}:3: skipped: invalid email "not-an-email": Expected string to match '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$'`,
      `${users}:4: skipped: created_at "yesterday" is not a timestamp like 2024-03-10 12:15:09`,
      `${users}:5: skipped: id 1 already exists`,
      `${users}:6: skipped: username "good1" already exists`,
      `${users}: users: imported 2, skipped 4`,
      `${urls}:3: skipped: original_url "javascript:alert(1)" must be an absolute http:// or https:// URL of printable ASCII characters`,
      `${urls}:5: skipped: is_active "maybe" must be True or False`,
      `${urls}:6: skipped: has 7 fields but the header has 8 (short row)`,
      `${urls}:9: skipped: short_code "gone01" belonged to a deleted link and is never reused`,
      `${urls}:4: skipped: user_id 77777 does not exist`,
      `${urls}:7: skipped: short_code "YUrtmo" already exists`,
      `${urls}: urls: imported 2, skipped 6`,
      `${events}:4: skipped: details must be a JSON object`,
      `${events}:6: skipped: details.n: text may not contain NUL characters`,
      `${events}:5: skipped: url_id 9999 does not exist`,
      `${events}: events: imported 1, skipped 3`,
    ]);
    expect(code).toBe(1);
    expect([...await h.deps.sql`select id, username, created_at from users where id > 5000 order by id`]).toEqual([
      { id: 5001, username: "good1", created_at: "2024-01-02 03:04:05" },
      { id: 5005, username: "good3", created_at: "2024-01-02 03:04:05.123456" },
    ]);
    expect([...await h.deps.sql`select id, title, is_active from urls where id > 9000 order by id`]).toEqual([
      { id: 9001, title: "Title", is_active: true },
      { id: 9007, title: null, is_active: false },
    ]);
    expect([...await h.deps.sql`select id::int as id, details from events where id > 8000`]).toEqual([{ id: 8001, details: { a: 1 } }]);
  });

  test("one conflicting row in a large file costs only itself: the rest of its batch still goes in", async () => {
    const rows = Array.from({ length: 12_000 }, (_, i) => {
      const code = i === 7_000 ? "YUrtmo" : `big${String(i).padStart(5, "0")}`;
      return `${20_001 + i},1,${code},https://example.com/big/${i},,True,2025-01-01 00:00:00,2025-01-01 00:00:00`;
    });
    const path = await file("big-urls.csv", `id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n${rows.join("\n")}\n`);
    const { code, lines } = await run([path]);
    expect(untimed(lines)).toEqual([`${path}:7002: skipped: short_code "YUrtmo" already exists`, `${path}: urls: imported 11999, skipped 1`]);
    expect(code).toBe(1);
    const { n } = (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from urls where id > 20000`)[0]!;
    expect(n).toBe(11_999);
    const [next] = await h.deps.sql`select nextval(pg_get_serial_sequence('urls', 'id'))::int as urls`;
    expect(next).toEqual({ urls: 32_001 });
  });

  test("refuses the whole run when a file is missing, empty or of no known table, importing nothing", async () => {
    const before = await count("users");
    const odd = await file("odd.csv", "name,colour\nx,y\n");
    const empty = await file("empty.csv", "");
    const good = await file("fine.csv", "id,username,email,created_at\n6001,fine,fine@example.com,2024-01-01 00:00:00\n");
    const { code, lines } = await run([good, odd, empty, join(dir, "nope.csv")]);
    expect(code).toBe(2);
    expect(lines).toEqual([
      `${odd}: the header "name,colour" is not one of users (id,username,email,created_at), urls (id,user_id,short_code,original_url,title,is_active,created_at,updated_at), events (id,url_id,user_id,event_type,timestamp,details)`,
      `${empty}: the file is empty`,
      `${join(dir, "nope.csv")}: no such file`,
      "nothing was imported",
    ]);
    expect(await count("users")).toBe(before);
  });
});
