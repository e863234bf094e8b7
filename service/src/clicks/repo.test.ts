import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApp, type TestApp } from "../../test/harness.ts";
import { connect } from "../db/client.ts";
import { createClicksRepo, pgArrayLiteral } from "./repo.ts";

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
});
