import { describe, expect, test } from "bun:test";
import { discordPayload, retryAfterMs } from "./discord.ts";

describe("retryAfterMs", () => {
  test("prefers the exact body retry_after, in fractional seconds", () => {
    expect(retryAfterMs(new Headers({ "Retry-After": "1" }), JSON.stringify({ retry_after: 0.25 }))).toBe(250);
  });
  test("falls back to the Retry-After header: seconds or an HTTP date", () => {
    expect(retryAfterMs(new Headers({ "Retry-After": "2" }), "not json")).toBe(2_000);
    const inThree = new Date(Date.now() + 3_000).toUTCString();
    expect(retryAfterMs(new Headers({ "Retry-After": inThree }), "")).toBeWithin(1_000, 3_001);
  });
  test("a missing or garbage value waits 1 s; a huge one is capped at 10 min", () => {
    expect(retryAfterMs(new Headers(), "{}")).toBe(1_000);
    expect(retryAfterMs(new Headers({ "Retry-After": "soon" }), JSON.stringify({ retry_after: -3 }))).toBe(1_000);
    expect(retryAfterMs(new Headers(), JSON.stringify({ retry_after: 1e9 }))).toBe(600_000);
  });
});

describe("discordPayload", () => {
  test("cuts a title and detail Discord would refuse, never pings anyone", () => {
    const body = discordPayload({ key: "k", severity: "warning", title: "t".repeat(400), detail: "@everyone " + "d".repeat(5_000), resolved: false, at: 0 });
    const embed = (body.embeds as { title: string; description: string; color: number }[])[0]!;
    expect(embed.title).toHaveLength(256);
    expect(embed.description).toHaveLength(4096);
    expect(embed.color).toBe(0xf39c12);
    expect(body.allowed_mentions).toEqual({ parse: [] });
  });
});
