import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApp, type TestApp } from "../../test/harness.ts";
import type { Click } from "../clicks/model.ts";
import type { ClickSink } from "../clicks/sink.ts";
import { createRedirectRepo } from "./repo.ts";
import type { ResolveWithSource } from "../cache/cached-resolve.ts";
import { createRedirectService } from "./service.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

/** The real PostgreSQL lookup, counting its calls; and a sink that keeps what it is given. */
function setup() {
  const lookups: string[] = [];
  const real = createRedirectRepo(h.deps.sql).resolve;
  const resolve: ResolveWithSource = async (code) => { lookups.push(code); return { resolution: await real(code), source: "db" }; };
  const recorded: Click[] = [];
  const clicks: ClickSink = { record: (c) => { recorded.push(c); }, flushNow: async () => {}, stop: async () => {} };
  return { lookups, recorded, service: createRedirectService({ resolve, clicks }) };
}

describe("redirect service", () => {
  test("a path that cannot be a code is 404 without a database lookup", async () => {
    const { lookups, service } = setup();
    for (const code of ["", "a".repeat(17), "a.b", "a b", "é", "a/b"]) {
      await expect(service.follow(code, { referrer: null, userAgent: null })).rejects.toMatchObject({ status: 404 });
    }
    expect(lookups).toEqual([]);
  });

  test("an active code gives its URL and hands one click to the sink", async () => {
    const userId = (await h.request("POST", "/users", { body: { username: "svc", email: "svc@example.com" } })).json.id;
    const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://svc.example/" } })).json;
    const { lookups, recorded, service } = setup();
    expect(await service.follow(url.short_code, { referrer: "r\u0000ef", userAgent: null })).toBe("https://svc.example/");
    expect(lookups).toEqual([url.short_code]);
    expect(recorded).toEqual([{ id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/), urlId: url.id, shortCode: url.short_code, at: expect.any(Date), referrer: "ref", userAgent: undefined, clientIp: undefined }]);
  });
});
