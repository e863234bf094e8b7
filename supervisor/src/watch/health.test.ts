import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { cleanVersion, parseHealth, readInstanceHealth, VERSION_MAX } from "./health.ts";

const SPOOL = { bytes: 2048, unshipped_clicks: 12, oldest_unshipped_age_seconds: 3.5 };

// A local HTTP server standing in for an instance's /health, answering what each path says.
let server: Server<unknown>;
let healthReads = 0;
beforeAll(() => {
  server = Bun.serve({
    port: 0, hostname: "127.0.0.1",
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/ok") { healthReads++; return Response.json({ status: "ok", version: "1.4.2", uptime_seconds: 12, click_spool: SPOOL }); }
      if (path === "/no-version") return Response.json({ status: "ok", click_spool: SPOOL });
      if (path === "/no-spool") return Response.json({ status: "ok", version: "0.9.0", redis: "off" });
      if (path === "/hostile") return Response.json({ status: "ok", version: "\u001b[2J\u001b]0;pwned\u0007 1.0\u202e0.2\n", click_spool: { bytes: "lots" } });
      if (path === "/huge") return new Response(`{"version":"${"9".repeat(100_000)}"}`);
      if (path === "/hang") return new Promise<Response>(() => {});
      return new Response("<html>", { status: 200 });
    },
  });
});
afterAll(() => server.stop(true));

const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;
const unknown = { spool: null, version: null };

describe("readInstanceHealth", () => {
  test("one request gives both the click spool and the release", async () => {
    const before = healthReads;
    expect(await readInstanceHealth(url("/ok"), 1_000)).toEqual({ spool: SPOOL, version: "1.4.2" });
    expect(healthReads - before).toBe(1);
  });

  test("each field on its own: an answer without one still gives the other", async () => {
    expect(await readInstanceHealth(url("/no-version"), 1_000)).toEqual({ spool: SPOOL, version: null });
    expect(await readInstanceHealth(url("/no-spool"), 1_000)).toEqual({ spool: null, version: "0.9.0" });
  });

  test("a hostile answer is made harmless: no control or bidi character reaches a screen, a bad spool is unknown", async () => {
    expect(await readInstanceHealth(url("/hostile"), 1_000)).toEqual({ spool: null, version: "[2J ]0;pwned 1.0 0.2" });
  });

  test("a foreign answer, a body past the limit, a hang or a closed port is unknown, never an error", async () => {
    expect(await readInstanceHealth(url("/html"), 1_000)).toEqual(unknown);
    expect(await readInstanceHealth(url("/huge"), 1_000)).toEqual(unknown);
    expect(await readInstanceHealth(url("/hang"), 200)).toEqual(unknown);
    expect(await readInstanceHealth("http://127.0.0.1:1/health", 200)).toEqual(unknown);
  });
});

describe("parseHealth and cleanVersion", () => {
  test("JSON that is not an object is unknown", () => {
    for (const body of ["null", "[]", '"1.0.0"', "42", "", "{"]) expect(parseHealth(body)).toEqual(unknown);
  });

  test("a version that is not a non-empty string is unknown", () => {
    for (const value of [undefined, null, 1.2, true, ["1.0"], { v: "1" }, "", "   ", "\u0000\u001b\u200b"]) expect(cleanVersion(value)).toBeNull();
  });

  test("a release name passes unchanged; controls and invisible characters become one space", () => {
    expect(cleanVersion("2026.12.05-3f2a1c0+build_7")).toBe("2026.12.05-3f2a1c0+build_7");
    expect(cleanVersion(" 1.0.0\r\n")).toBe("1.0.0");
    expect(cleanVersion("1.0\u0085\u009b31m\u200f\u2066.1\ufeff")).toBe("1.0 31m .1");
    expect(cleanVersion("1.0\t\t\t2")).toBe("1.0 2");
  });

  test(`at most ${VERSION_MAX} characters, cut with an ellipsis, never through a surrogate pair`, () => {
    const long = cleanVersion("v".repeat(200))!;
    expect(long).toBe(`${"v".repeat(VERSION_MAX - 1)}…`);
    const emoji = cleanVersion("🚀".repeat(100))!;
    expect(Array.from(emoji)).toHaveLength(VERSION_MAX);
    expect(emoji).toBe(`${"🚀".repeat(VERSION_MAX - 1)}…`);
    expect(cleanVersion("x".repeat(VERSION_MAX))).toBe("x".repeat(VERSION_MAX));
  });
});
