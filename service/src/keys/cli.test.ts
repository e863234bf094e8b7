import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { createDatabase, dropDatabase } from "../../test/pg.ts";
import { connect } from "../db/client.ts";
import { runKeysCommand } from "./cli.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

async function run(...args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runKeysCommand(args, { sql: h.deps.sql, db: h.deps.db, out: (line) => lines.push(line) });
  return { code, lines };
}

describe("linkfort keys", () => {
  test("create prints the key once, list shows it, revoke ends it", async () => {
    const created = await run("create", "--name", "cli key");
    expect(created.code, created.lines.join("\n")).toBe(0);
    const key = created.lines.find((l) => l.startsWith("key: "))?.slice(5) ?? "";
    expect(key).toMatch(/^lf_[0-9A-Za-z]{40}$/);
    const id = Number(/created admin key (\d+) "cli key" \(lf_\w{7}…\)/.exec(created.lines[0] ?? "")?.[1]);
    expect(id, created.lines.join("\n")).toBeGreaterThan(0);
    const use = await h.request("GET", "/admin/keys", { key });
    expect(use.status, show(use)).toBe(200);

    const listed = await run("list");
    expect(listed.code).toBe(0);
    expect(listed.lines[0]).toMatch(/^ID\s+NAME\s+SCOPE\s+USER\s+PREFIX\s+CREATED\s+LAST USED\s+REVOKED$/);
    const row = listed.lines.find((l) => l.startsWith(`${id} `)) ?? "";
    expect(row, listed.lines.join("\n")).toMatch(new RegExp(`^${id}\\s+cli key\\s+admin\\s+-\\s+${key.slice(0, 10)}\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+\\S+\\s+-$`));
    expect(listed.lines.join("\n")).not.toContain(key);

    const revoked = await run("revoke", String(id));
    expect(revoked, revoked.lines.join("\n")).toEqual({ code: 0, lines: [`revoked key ${id} "cli key" (${key.slice(0, 10)}…)`] });
    const after = await h.request("GET", "/admin/keys", { key });
    expect(after.status, show(after)).toBe(401);
    const relisted = await run("list");
    expect(relisted.lines.find((l) => l.startsWith(`${id} `)), relisted.lines.join("\n")).toMatch(/\d{4}-\d\d-\d\dT\S+$/);
  });

  test("create --user-id makes a user key for that user", async () => {
    const [user] = await h.deps.sql<{ id: number }[]>`insert into users (username, email) values ('cli', 'cli@example.com') returning id`;
    const created = await run("create", "--name", "app", "--user-id", String(user!.id));
    expect(created.code, created.lines.join("\n")).toBe(0);
    expect(created.lines[0]).toMatch(new RegExp(`^created user key \\d+ "app" for user ${user!.id} `));
  });

  test("an unknown user or key id is exit 1 with the reason", async () => {
    expect(await run("create", "--name", "x", "--user-id", "999999")).toEqual({ code: 1, lines: ["linkfort keys: user 999999 not found"] });
    expect(await run("revoke", "999999")).toEqual({ code: 1, lines: ["linkfort keys: API key 999999 not found"] });
  });

  const bad: [string, string[], string][] = [
    ["no command", [], "missing command"],
    ["an unknown command", ["rotate"], 'unknown command "rotate"'],
    ["create without --name", ["create"], "--name is required"],
    ["an unknown option", ["create", "--name", "x", "--force"], "--force"],
    ["a bad scope", ["create", "--name", "x", "--scope", "root"], "--scope must be admin or user"],
    ["a non-numeric user id", ["create", "--name", "x", "--user-id", "abc"], "--user-id must be a positive integer"],
    ["an admin key with a user", ["create", "--name", "x", "--scope", "admin", "--user-id", "1"], "not allowed for an admin key"],
    ["a user key without a user", ["create", "--name", "x", "--scope", "user"], "required for a user-scoped key"],
    ["list with arguments", ["list", "all"], "list takes no arguments"],
    ["revoke without an id", ["revoke"], "exactly one key id"],
    ["revoke with a bad id", ["revoke", "1.5"], "ID must be a positive integer"],
    ["bootstrap with arguments", ["bootstrap", "now"], "bootstrap takes no arguments"],
  ];
  for (const [what, args, reason] of bad) {
    test(`${what} is exit 2 with the reason and the usage`, async () => {
      const { code, lines } = await run(...args);
      expect(code, lines.join("\n")).toBe(2);
      expect(lines.join("\n")).toContain(reason);
      expect(lines.join("\n")).toContain("usage:\n  linkfort keys create --name NAME");
    });
  }
});

describe("linkfort keys bootstrap", () => {
  test("prints one admin key, alone on its line, only while the database has no active admin key", async () => {
    const database = await createDatabase();
    const io = connect({ url: database.url, poolMax: 4, statementTimeoutMs: 5_000, applicationName: "keys-bootstrap-test" });
    try {
      const bootstrap = async () => {
        const lines: string[] = [];
        const code = await runKeysCommand(["bootstrap"], { ...io, out: (line) => lines.push(line) });
        return { code, lines };
      };
      // Two at once, as a supervisor and an instance could: the advisory lock lets one create it.
      const first = await Promise.all([bootstrap(), bootstrap()]);
      expect(first.map((r) => r.code)).toEqual([0, 0]);
      const printed = first.flatMap((r) => r.lines);
      expect(printed, printed.join("\n")).toHaveLength(1);
      expect(printed[0]).toMatch(/^lf_[0-9A-Za-z]{40}$/);
      expect(await bootstrap()).toEqual({ code: 0, lines: [] });
      const [row] = await io.sql<{ n: number }[]>`select count(*)::int as n from api_keys where scope = 'admin' and revoked_at is null`;
      expect(row?.n).toBe(1);
    } finally {
      await io.sql.end();
      await dropDatabase(database.name);
    }
  });
});
