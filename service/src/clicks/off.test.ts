import { describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { listSegments, instanceSpoolDir } from "./spool-dir.ts";
import { countLines } from "./spool-reader.ts";

// CLICKS=off: redirects answer as usual and record nothing, not even in the spool.

async function redirectTwice(h: TestApp): Promise<number> {
  const userId = (await h.request("POST", "/users", { body: { username: "off", email: "off@example.com" } })).json.id;
  const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://off.example/" } })).json;
  for (let i = 0; i < 2; i++) {
    const res = await h.request("GET", `/${url.short_code}`, { key: null });
    expect(res.status, show(res)).toBe(302);
    expect(res.headers.get("location")).toBe("https://off.example/");
  }
  await h.deps.clicks.flushNow();
  return (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where event_type = 'clicked'`)[0]!.n;
}

describe("CLICKS=off", () => {
  test("302s, no clicked events, nothing in the spool", async () => {
    const h = await testApp({ clicks: false });
    try {
      expect(await redirectTwice(h)).toBe(0);
      const dir = instanceSpoolDir(h.deps.config.clickSpoolDir!, h.deps.config.port);
      expect(listSegments(dir).length).toBe(1);
      expect(await countLines(dir, { segment: 0, offset: 0 })).toBe(0);
    } finally {
      await h.close();
    }
  });

  test("on (the default) records each redirect, as a control for the two above", async () => {
    const h = await testApp();
    try {
      expect(await redirectTwice(h)).toBe(2);
    } finally {
      await h.close();
    }
  });
});
