import { describe, expect, test } from "bun:test";
import { CLICK_HEADER_MAX, clickDetails, clickHeader } from "./model.ts";

describe("clickHeader", () => {
  test("keeps short values as they are and absent or empty ones out", () => {
    expect(clickHeader("https://from.example/")).toBe("https://from.example/");
    expect(clickHeader(null)).toBeUndefined();
    expect(clickHeader(undefined)).toBeUndefined();
    expect(clickHeader("")).toBeUndefined();
  });

  test("cuts at 512 characters without leaving half a surrogate pair, and removes NUL", () => {
    expect(clickHeader("x".repeat(600))).toBe("x".repeat(CLICK_HEADER_MAX));
    const cut = clickHeader(`${"x".repeat(CLICK_HEADER_MAX - 1)}😀`)!;
    expect(cut.isWellFormed()).toBe(true);
    expect(cut.length).toBe(CLICK_HEADER_MAX);
    expect(clickHeader("a\u0000b")).toBe("ab");
  });
});

describe("clickDetails", () => {
  test("always names the code and only the headers that were sent", () => {
    const at = new Date();
    expect(clickDetails({ id: "x", urlId: 1, shortCode: "abc123", at })).toEqual({ short_code: "abc123" });
    expect(clickDetails({ id: "x", urlId: 1, shortCode: "abc123", at, referrer: "r", userAgent: "u", clientIp: "203.0.113.9" })).toEqual({ short_code: "abc123", referrer: "r", user_agent: "u", client_ip: "203.0.113.9" });
  });

  test("carries bot: true for a bot's click, and no bot key at all for a person's", () => {
    const click = { id: "x", urlId: 1, shortCode: "abc123", at: new Date(), userAgent: "Twitterbot/1.0" };
    expect(clickDetails(click, true)).toEqual({ short_code: "abc123", user_agent: "Twitterbot/1.0", bot: true });
    expect(Object.keys(clickDetails(click, false))).toEqual(["short_code", "user_agent"]);
  });
});
