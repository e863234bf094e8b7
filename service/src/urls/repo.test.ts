import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { codesInOrder as codes, testApp, type TestApp } from "../../test/harness.ts";
import { createUrlsRepo } from "./repo.ts";

let h: TestApp;
let userId: number;
beforeAll(async () => {
  h = await testApp();
  userId = (await h.request("POST", "/users", { body: { username: "repo", email: "repo@example.com" } })).json.id;
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const newUrl = { originalUrl: "https://repo.example/", title: null };

describe("urls repo: short codes", () => {
  test("a code already in use is skipped and the next one is taken", async () => {
    const repo = createUrlsRepo(h.deps.db, { newCode: codes("Taken1", "Taken1", "Fresh1") });
    const first = await repo.insert({ userId, ...newUrl });
    const second = await repo.insert({ userId, ...newUrl });
    expect(first).toMatchObject({ shortCode: "Taken1" });
    expect(second).toMatchObject({ shortCode: "Fresh1" });
  });

  test("a retired code is never issued again", async () => {
    const repo = createUrlsRepo(h.deps.db, { newCode: codes("Retir1", "Retir1", "Fresh2") });
    const first = await repo.insert({ userId, ...newUrl });
    if (first === "no-user") throw new Error("owner missing");
    expect(await repo.delete(first.id)).toMatchObject({ shortCode: "Retir1" });
    expect(await repo.insert({ userId, ...newUrl })).toMatchObject({ shortCode: "Fresh2" });
  });

  test("gives up after five collisions without writing anything", async () => {
    const repo = createUrlsRepo(h.deps.db, { newCode: () => "Taken1" });
    const before = await h.deps.sql`select count(*)::int as n from events`;
    await expect(repo.insert({ userId, ...newUrl })).rejects.toThrow("no free short code");
    expect(await h.deps.sql`select count(*)::int as n from events`).toEqual(before);
  });

  test("an owner that does not exist is reported as a value", async () => {
    const repo = createUrlsRepo(h.deps.db);
    expect(await repo.insert({ userId: 987654, ...newUrl })).toBe("no-user");
  });
});
