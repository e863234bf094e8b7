import { afterAll, describe, expect, test } from "bun:test";
import { runAuthSuite } from "../../test/auth-suite.ts";
import { show, testApp } from "../../test/harness.ts";

// Top-level await: the suite declares one test group per route, so the app must exist first.
const h = await testApp();
afterAll(async () => { await h.close(); }, 30_000);

// These exist today; the suite also covers whatever other routes the app has when it runs.
runAuthSuite(h, { mustInclude: ["POST /admin/keys", "GET /admin/keys", "DELETE /admin/keys/:id", "GET /users", "POST /users"] });

describe("Authorization header parsing", () => {
  test("the Bearer scheme is case-insensitive", async () => {
    for (const scheme of ["bearer", "BEARER", "bEaReR"]) {
      const res = await h.request("GET", "/admin/keys", { key: null, headers: { authorization: `${scheme} ${h.adminKey}` } });
      expect(res.status, `${scheme}: ${show(res)}`).toBe(200);
    }
  });

  test("Bearer without a key is 401", async () => {
    const res = await h.request("GET", "/users", { key: null, headers: { authorization: "Bearer" } });
    expect(res.status, show(res)).toBe(401);
    expect(res.json, show(res)).toEqual({ error: "Unauthorized", message: "Authorization: Bearer must be followed by exactly one key" });
  });

  test("Bearer with two tokens is 401 even when the first is a valid key", async () => {
    const res = await h.request("GET", "/users", { key: null, headers: { authorization: `Bearer ${h.adminKey} extra` } });
    expect(res.status, show(res)).toBe(401);
    expect(res.json, show(res)).toEqual({ error: "Unauthorized", message: "Authorization: Bearer must be followed by exactly one key" });
  });

  test("a key without its scheme is 401", async () => {
    const res = await h.request("GET", "/users", { key: null, headers: { authorization: h.adminKey } });
    expect(res.status, show(res)).toBe(401);
    expect(res.json, show(res)).toEqual({ error: "Unauthorized", message: "Authorization header must use the Bearer scheme: Authorization: Bearer <key>" });
  });

  test("an over-long key is 401 without a lookup", async () => {
    const res = await h.request("GET", "/users", { key: `lf_${"a".repeat(5000)}` });
    expect(res.status, show(res)).toBe(401);
    expect(res.json, show(res)).toEqual({ error: "Unauthorized", message: "unknown API key" });
  });

  test("the 401 for a missing header is the full contract body with a challenge", async () => {
    const res = await h.request("GET", "/admin/keys", { key: null });
    expect(res.status, show(res)).toBe(401);
    expect(res.json, show(res)).toEqual({ error: "Unauthorized", message: "missing Authorization header; send Authorization: Bearer <key>" });
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="linkfort"');
  });
});

describe("public routes", () => {
  test("/health, /live, /ready and /metrics answer without a key", async () => {
    for (const path of ["/health", "/live", "/ready", "/metrics"]) {
      const res = await h.request("GET", path, { key: null });
      expect(res.status, `${path}: ${show(res)}`).toBe(200);
    }
  });
});
