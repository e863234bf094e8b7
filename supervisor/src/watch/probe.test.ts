import { afterAll, describe, expect, test } from "bun:test";
import { probeReady } from "./probe.ts";

// Real local servers: one that answers, one that accepts connections and never answers (hung).
const ready = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new URL(req.url).pathname === "/ready" ? Response.json({ status: "ready" }) : new Response("no", { status: 404 }) });
const draining = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ status: "draining" }, { status: 503 }) });
const hung = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
afterAll(() => { ready.stop(true); draining.stop(true); hung.stop(true); });

describe("probeReady", () => {
  test("200 from /ready passes", async () => {
    expect(await probeReady(`http://127.0.0.1:${ready.port}/ready`, 500)).toMatchObject({ ok: true, status: 200, error: null });
  });

  test("503 while draining fails with the status in the error", async () => {
    const r = await probeReady(`http://127.0.0.1:${draining.port}/ready`, 500);
    expect(r).toMatchObject({ ok: false, status: 503 });
    expect(r.error).toContain("503");
  });

  test("a server that accepts and never answers fails after the timeout, not later", async () => {
    const r = await probeReady(`http://127.0.0.1:${hung.port}/ready`, 200);
    expect(r).toMatchObject({ ok: false, status: null, error: "no answer within 200 ms (hung?)" });
    expect(r.ms).toBeGreaterThanOrEqual(190);
    expect(r.ms).toBeLessThan(1_000);
  });

  test("a closed port fails at once with the connection error", async () => {
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const free = closed.port;
    closed.stop(true);
    const r = await probeReady(`http://127.0.0.1:${free}/ready`, 500);
    expect(r.ok).toBe(false);
    expect(r.status).toBeNull();
    expect(r.error).not.toContain("hung");
  });
});
