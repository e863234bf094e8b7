/**
 * The Caddyfile's edge profile (install.sh --role edge), live: a real caddy with the repository's
 * Caddyfile adapted for LINKFORT_PROFILE=edge, in front of two stand-in app VMs on loopback. An app
 * VM that stops, or hangs mid-request as a killed VM does (no reset ever comes), costs no failed
 * GET. The adapted config is run with its public listener moved to 127.0.0.1 (the profile itself
 * serves every interface) and its access log off; everything else is the file as shipped.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "../../service/test/ports.ts";
import { requireTool } from "../../service/test/tools.ts";
import { waitFor } from "../../service/test/wait.ts";

/** A stand-in app VM: its Caddy's /ready, and every other path answered with its name. */
interface AppVm { name: string; server: ReturnType<typeof Bun.serve>; hang: boolean; requests: string[] }

function appVm(name: string): AppVm {
  const vm: AppVm = { name, hang: false, requests: [], server: undefined as unknown as ReturnType<typeof Bun.serve> };
  vm.server = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    // A hung request must stay open until Caddy gives up on it, not until Bun's idle timeout.
    idleTimeout: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/ready") return Response.json({ status: "ready" });
      vm.requests.push(path);
      if (vm.hang) return new Promise<Response>(() => {});
      if (request.method === "POST") return Response.json({ app: name, path, body: await request.text() });
      return Response.json({ app: name, path });
    },
  });
  return vm;
}

let dir = "";
let caddy: Subprocess | undefined;
let edgePort = 0;
let a: AppVm;
let b: AppVm;

function run(argv: string[], env: Record<string, string>) {
  const r = Bun.spawnSync(argv, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config"), ...env }, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

type Server = { listen: string[] };
type Config = { admin: { listen: string }; logging?: unknown; apps: { http: { servers: Record<string, Server> } } };

beforeAll(async () => {
  const caddyBin = requireTool("caddy");
  dir = await mkdtemp(join(tmpdir(), "linkfort-edge-"));
  a = appVm("app-a");
  b = appVm("app-b");
  edgePort = await freePort();
  const metricsAddress = `127.0.0.1:${await freePort()}`;
  const config = JSON.parse(run([caddyBin, "adapt", "--adapter", "caddyfile", "--config", join(import.meta.dir, "../../Caddyfile")], {
    LINKFORT_PROFILE: "edge", LINKFORT_SITE: `:${edgePort}`, LINKFORT_APP_UPSTREAMS: `127.0.0.1:${a.server.port} 127.0.0.1:${b.server.port}`,
    LINKFORT_CADDY_ADMIN: `unix/${join(dir, "admin.sock")}`, LINKFORT_CADDY_METRICS: metricsAddress,
  })) as Config;
  const publicServer = Object.values(config.apps.http.servers).find((s) => s.listen.includes(`:${edgePort}`));
  if (!publicServer) throw new Error(`no server listens on :${edgePort}: ${JSON.stringify(config.apps.http.servers)}`);
  publicServer.listen = [`127.0.0.1:${edgePort}`];
  delete config.logging; // the access log goes to /var/log/caddy on a VM
  const file = join(dir, "edge.json");
  await Bun.write(file, JSON.stringify(config));
  caddy = Bun.spawn([caddyBin, "run", "--config", file], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") },
    stdout: "ignore", stderr: "pipe",
  });
  await waitFor("the edge to answer through both app VMs", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add(((await get("/warmup")).body as { app?: string }).app ?? "");
    return seen.has("app-a") && seen.has("app-b");
  }, 30_000, { retryErrors: true, everyMs: 100 });
}, 60_000);

afterAll(async () => {
  caddy?.kill();
  await caddy?.exited;
  a?.server.stop(true);
  b?.server.stop(true);
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

async function get(path: string, init: RequestInit = {}) {
  const res = await fetch(`http://127.0.0.1:${edgePort}${path}`, init);
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON: kept as text for the assertion message */ }
  return { status: res.status, body };
}

describe("the Caddyfile's edge profile, live in front of two app VMs", () => {
  test("requests are spread over both app VMs", async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => get(`/spread-${i}`)));
    expect(answers.every((r) => r.status === 200), JSON.stringify(answers)).toBe(true);
    expect(new Set(answers.map((r) => (r.body as { app: string }).app))).toEqual(new Set(["app-a", "app-b"]));
  });

  test("/metrics is linkfort's JSON 404 at the edge and an oversized body a 413: neither reaches an app VM", async () => {
    const before = a.requests.length + b.requests.length;
    const metrics = await get("/metrics");
    expect([metrics.status, metrics.body]).toEqual([404, { error: "Not Found", message: "no route for GET /metrics" }]);
    const big = await get("/urls", { method: "POST", headers: { "Content-Type": "application/json" }, body: "x".repeat(1_048_577) });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ error: "Payload Too Large", limit_bytes: 1_048_576 });
    expect(a.requests.length + b.requests.length).toBe(before);
  });

  test("an app VM that hangs mid-request (a killed VM sends no reset): every GET is answered by the other", async () => {
    a.hang = true;
    const before = a.requests.length;
    try {
      // Round robin sends some of these to the hung one; each is tried again on the other after
      // the edge's response header timeout.
      const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => get(`/hung-${i}`)));
      expect(answers.map((r) => [r.status, (r.body as { app?: string }).app])).toEqual(Array(4).fill([200, "app-b"]));
      expect(a.requests.length, "no request reached the hung app VM: the retry was not exercised").toBeGreaterThan(before);
    } finally {
      a.hang = false;
    }
  }, 60_000);

  test("an app VM that stops (connection refused): every GET and every POST (with its body) is answered by the other", async () => {
    // Both in rotation again first, so the stopped one is still picked until a health check fails.
    await waitFor("app-a back in rotation", async () => ((await get("/back")).body as { app?: string }).app === "app-a", 30_000, { everyMs: 50 });
    a.server.stop(true);
    // Right after the stop, before a health check notices: a POST that picks the stopped VM fails
    // to connect and must reach the other with its body (unbuffered, its retry failed and marked
    // the healthy VM down too, and POSTs met 503 for fail_duration).
    const answers: { status: number; app?: string; body?: string }[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await get(`/after-stop-${i}`);
      answers.push({ status: r.status, app: (r.body as { app?: string }).app });
      const p = await get(`/post-after-stop-${i}`, { method: "POST", body: JSON.stringify({ i }), headers: { "Content-Type": "application/json" } });
      answers.push({ status: p.status, app: (p.body as { app?: string }).app, body: (p.body as { body?: string }).body });
    }
    expect(answers).toEqual(Array.from({ length: 30 }, (_, i) => [
      { status: 200, app: "app-b" }, { status: 200, app: "app-b", body: JSON.stringify({ i }) },
    ]).flat());
  }, 60_000);
  test("with no app VM left, the edge's own error is JSON with a Retry-After, not an empty body", async () => {
    b.server.stop(true);
    const res = await fetch(`http://127.0.0.1:${edgePort}/none-left`, { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
    const text = await res.text();
    expect([502, 503, 504], text).toContain(res.status);
    expect(res.headers.get("content-type")).toBe("application/json;charset=utf-8");
    expect(res.headers.get("retry-after")).toBe("1");
    expect(JSON.parse(text)).toEqual({ error: expect.stringMatching(/^(Bad Gateway|Service Unavailable|Gateway Timeout)$/), message: "no linkfort instance answered in time; try again shortly", proxy: hostname() });
  }, 60_000);
});
