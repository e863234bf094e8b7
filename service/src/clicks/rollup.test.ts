import { describe, expect, test } from "bun:test";
import { agentFamily, countRollups, referrerKey, utcDay } from "./rollup.ts";

describe("rollup keys", () => {
  test("a referrer counts by its lowercased host; absent and host-less ones by fixed keys", () => {
    expect(referrerKey("https://WWW.Example.com:8443/a?b#c")).toBe("www.example.com");
    expect(referrerKey(undefined)).toBe("(direct)");
    expect(referrerKey("not a url")).toBe("(other)");
    expect(referrerKey("mailto:x@example.com")).toBe("(other)");
  });

  test("a user agent counts by a family from a closed list, never the raw string", () => {
    const cases: [string | undefined, string][] = [
      ["Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0", "edge"],
      ["Mozilla/5.0 (X11; Linux) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", "chrome"],
      ["Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15", "safari"],
      ["Mozilla/5.0 (X11; rv:121.0) Gecko/20100101 Firefox/121.0", "firefox"],
      ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"],
      ["curl/8.5.0", "curl"],
      ["something else", "other"],
      [undefined, "(none)"],
    ];
    for (const [ua, family] of cases) expect(agentFamily(ua), String(ua)).toBe(family);
  });

  test("a batch is counted once per key of each rollup, on the click's UTC day, its bots apart too", () => {
    const day = utcDay(new Date("2024-05-31T23:59:59.999-01:00")); // already June 1st in UTC
    expect(day).toBe("2024-06-01");
    const clicks = [
      { urlId: 2, day, referrer: "a.example", agent: "curl", bot: true },
      { urlId: 1, day, referrer: "a.example", agent: "curl", bot: true },
      { urlId: 2, day, referrer: "b.example", agent: "firefox", bot: false },
      { urlId: 2, day, referrer: "a.example", agent: "bot", bot: true },
      { urlId: 2, day: "2024-06-02", referrer: "a.example", agent: "firefox", bot: false },
    ];
    // url day key clicks bots
    const rows = (c: ReturnType<typeof countRollups>["daily"]) =>
      c.urlIds.map((u, i) => `${u} ${c.days[i]} ${c.keys[i]} ${c.clicks[i]} ${c.botClicks[i]}`).sort();
    const counted = countRollups(clicks);
    expect(rows(counted.daily)).toEqual(["1 2024-06-01  1 1", "2 2024-06-01  3 2", "2 2024-06-02  1 0"]);
    expect(rows(counted.referrers)).toEqual(["1 2024-06-01 a.example 1 1", "2 2024-06-01 a.example 2 2", "2 2024-06-01 b.example 1 0", "2 2024-06-02 a.example 1 0"]);
    expect(rows(counted.agents)).toEqual(["1 2024-06-01 curl 1 1", "2 2024-06-01 bot 1 1", "2 2024-06-01 curl 1 1", "2 2024-06-01 firefox 1 0", "2 2024-06-02 firefox 1 0"]);
  });
});
