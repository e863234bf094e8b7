import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApp, type TestApp } from "../../test/harness.ts";
import type { Click } from "../clicks/model.ts";
import type { ClickSink } from "../clicks/sink.ts";
import { createRedirectRepo } from "./repo.ts";
import type { Lookup } from "./model.ts";
import { createRedirectService } from "./service.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

/** The real PostgreSQL lookup, counting its calls; and a sink that keeps what it is given. */
function setup() {
  const lookups: string[] = [];
  const real = createRedirectRepo(h.deps.sql).resolve;
  const lookup = (code: string): Promise<Lookup> => { lookups.push(code); return real(code); };
  const recorded: Click[] = [];
  const clicks: ClickSink = { record: (c) => { recorded.push(c); }, flushNow: async () => {}, stop: async () => {} };
  return { lookups, recorded, service: createRedirectService({ lookup, clicks }) };
}

describe("redirect service", () => {
  test("an unknown code is a value, not a throw, and records no click", async () => {
    const { lookups, recorded, service } = setup();
    expect(await service.follow("zzzzzz", { referrer: null, userAgent: null })).toEqual({ kind: "missing", source: "db" });
    expect(lookups).toEqual(["zzzzzz"]);
    expect(recorded).toEqual([]);
  });

  test("an active code gives its URL and hands one click to the sink", async () => {
    const userId = (await h.request("POST", "/users", { body: { username: "svc", email: "svc@example.com" } })).json.id;
    const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://svc.example/" } })).json;
    const { lookups, recorded, service } = setup();
    expect(await service.follow(url.short_code, { referrer: "r\u0000ef", userAgent: null }))
      .toEqual({ kind: "found", urlId: url.id, location: "https://svc.example/", source: "db" });
    expect(lookups).toEqual([url.short_code]);
    expect(recorded).toEqual([{ id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/), urlId: url.id, shortCode: url.short_code, at: expect.any(Date), referrer: "ref", userAgent: undefined, clientIp: undefined }]);
  });
});
