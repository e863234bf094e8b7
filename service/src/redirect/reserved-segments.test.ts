import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApp, type TestApp } from "../../test/harness.ts";
import { seedUrl } from "../imports/rows.ts";
import { routeKind } from "../limits/route-kind.ts";
import { generateShortCode, SHORT_CODE_ALPHABET, SHORT_CODE_LENGTH } from "../urls/short-code.ts";
import { fixedFirstSegments, requireReserved, RESERVED_SEGMENTS } from "./reserved-segments.ts";

const sorted = (set: ReadonlySet<string>) => [...set].sort();

describe("the reserved first segments are the route table's", () => {
  let h: TestApp;
  beforeAll(async () => { h = await testApp(); }, 20_000);
  afterAll(async () => { await h?.close(); }, 10_000);

  test("every fixed first segment of the app's routes is reserved, and nothing else is", () => {
    const table = fixedFirstSegments(h.app.routes);
    expect(sorted(table), JSON.stringify(h.app.routes.map((r) => `${r.method} ${r.path}`))).toEqual(sorted(RESERVED_SEGMENTS));
  });

  test("a route table with an unreserved first segment is refused, naming it", () => {
    const routes = [...h.app.routes, { path: "/reports/:id" }, { path: "/reports" }, { path: "/tags" }];
    expect(() => requireReserved(routes)).toThrow("routes start with /reports, /tags, which redirect/reserved-segments.ts does not reserve");
    expect(() => requireReserved(h.app.routes)).not.toThrow();
  });
});

describe("fixedFirstSegments", () => {
  test("takes the first segment of each path and skips parameters, wildcards and the root", () => {
    const routes = ["/health", "/docs/json", "/urls/:id/stats", "/:short_code", "/*", "/", "/users/bulk"].map((path) => ({ path }));
    expect(sorted(fixedFirstSegments(routes))).toEqual(["docs", "health", "urls", "users"]);
  });
});

/** Bytes that the generator maps to `code` (each byte is the character's index in the alphabet), padded to 16. */
const bytesFor = (code: string) => {
  const bytes = new Uint8Array(16);
  [...code].forEach((c, i) => { bytes[i] = SHORT_CODE_ALPHABET.indexOf(c); });
  return bytes;
};

describe("every user of the list keeps codes and fixed paths apart", () => {
  test("a generated code is never a reserved segment: a draw that spells one is drawn again", () => {
    const drawable = [...RESERVED_SEGMENTS].filter((s) => s.length === SHORT_CODE_LENGTH && [...s].every((c) => SHORT_CODE_ALPHABET.includes(c)));
    // Today "health" and "events"; the rest cannot come out of a 6-character draw at all.
    expect(drawable.sort()).toEqual(["events", "health"]);
    for (const reserved of drawable) {
      const draws = [bytesFor(reserved), bytesFor("abc123")];
      expect(generateShortCode(() => draws.shift()!)).toBe("abc123");
    }
    for (let i = 0; i < 2_000; i++) expect(RESERVED_SEGMENTS.has(generateShortCode())).toBe(false);
  });

  test("a reserved segment alone is never a redirect for the rate limiter", () => {
    for (const segment of RESERVED_SEGMENTS) expect(routeKind("GET", `/${segment}`), segment).not.toBe("redirect");
    expect(routeKind("GET", "/abc123")).toBe("redirect");
  });

  test("the CSV import skips a link whose code is a reserved segment", () => {
    const row: Record<string, string> = {
      id: "1", user_id: "1", short_code: "health", original_url: "https://example.com/", title: "",
      is_active: "True", created_at: "2025-05-22 05:19:55", updated_at: "2025-05-22 05:19:55",
    };
    expect(seedUrl((name) => row[name] ?? "")).toEqual({ ok: false, reason: 'short_code "health" is a fixed path (/health) and would never redirect' });
    row.short_code = "abc123";
    expect(seedUrl((name) => row[name] ?? "").ok).toBe(true);
  });
});
