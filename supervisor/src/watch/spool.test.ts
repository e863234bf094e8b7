import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { readSpoolBacklog } from "./spool.ts";

// A local HTTP server standing in for an instance's /health, answering what each path says.
let server: Server<unknown>;
beforeAll(() => {
  server = Bun.serve({
    port: 0, hostname: "127.0.0.1",
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/ok") return Response.json({ status: "ok", click_spool: { bytes: 2048, unshipped_clicks: 12, oldest_unshipped_age_seconds: 3.5 } });
      if (path === "/unknown") return Response.json({ status: "degraded", click_spool: { bytes: 100, unshipped_clicks: null, oldest_unshipped_age_seconds: 40 } });
      if (path === "/old") return Response.json({ status: "ok", redis: "off" });
      if (path === "/hang") return new Promise<Response>(() => {});
      return new Response("<html>", { status: 200 });
    },
  });
});
afterAll(() => server.stop(true));

const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;

describe("readSpoolBacklog", () => {
  test("reads click_spool from /health, unshipped null while the instance does not know it", async () => {
    expect(await readSpoolBacklog(url("/ok"), 1_000)).toEqual({ bytes: 2048, unshipped_clicks: 12, oldest_unshipped_age_seconds: 3.5 });
    expect(await readSpoolBacklog(url("/unknown"), 1_000)).toEqual({ bytes: 100, unshipped_clicks: null, oldest_unshipped_age_seconds: 40 });
  });

  test("an instance without a spool (an older release), a foreign answer or a hang is unknown, never an error", async () => {
    expect(await readSpoolBacklog(url("/old"), 1_000)).toBeNull();
    expect(await readSpoolBacklog(url("/html"), 1_000)).toBeNull();
    expect(await readSpoolBacklog(url("/hang"), 200)).toBeNull();
    expect(await readSpoolBacklog("http://127.0.0.1:1/health", 200)).toBeNull();
  });
});
