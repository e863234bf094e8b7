/**
 * The shared proxy block of the repository's Caddyfile, live: a real caddy in front of a
 * stand-in upstream that records what reaches it. Requests are written byte for byte over TCP,
 * so no client library cleans `//metrics` or `/x/../metrics` before Caddy sees it. (The full
 * stack behind Caddy is supervisor/test/through-caddy.test.ts; the VM site is deploy/test/vm.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../service/src/lib/logger.ts";
import { freePort } from "../../service/test/ports.ts";
import { requireTool } from "../../service/test/tools.ts";
import { startCaddy, type RunningCaddy } from "../../supervisor/src/proxy/caddy.ts";

let caddyBin = "";

interface Seen { path: string; headers: Record<string, string> }
const seen: Seen[] = [];
let upstream: ReturnType<typeof Bun.serve> | undefined;
const proxies: RunningCaddy[] = [];
const stateDirs: string[] = [];

/** Caddy with the repository's Caddyfile (quick-start profile) in front of the stand-in. */
async function caddyInFront(extraEnv: Record<string, string> = {}): Promise<number> {
  const publicPort = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), "linkfort-caddyfile-"));
  stateDirs.push(dataDir);
  proxies.push(await startCaddy({
    bin: caddyBin, caddyfile: join(import.meta.dir, "../../Caddyfile"), publicPort, upstreams: [`127.0.0.1:${upstream!.port}`],
    adminAddress: `127.0.0.1:${await freePort()}`, dataDir, baseEnv: { PATH: process.env.PATH, ...extraEnv }, output: "ignore", logger: silentLogger,
  }));
  return publicPort;
}

/** One HTTP/1.1 request with the path exactly as given; resolves to status, headers and body. */
async function raw(port: number, path: string, headers: Record<string, string> = {}) {
  const chunks: Uint8Array[] = [];
  const { promise: closed, resolve } = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1", port,
    socket: { data(_, chunk) { chunks.push(chunk); }, close() { resolve(); }, error() { resolve(); } },
  });
  const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Connection: close", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  await closed;
  const text = Buffer.concat(chunks).toString();
  const [head = "", body = ""] = text.split("\r\n\r\n", 2);
  const [statusLine = "", ...headerLines] = head.split("\r\n");
  const responseHeaders = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  return { status: Number(statusLine.split(" ")[1]), headers: responseHeaders, body };
}

beforeAll(async () => {
  caddyBin = requireTool("caddy");
  upstream = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    fetch(request) {
      const url = new URL(request.url);
      if (url.pathname !== "/ready") seen.push({ path: url.pathname, headers: Object.fromEntries(request.headers) });
      return Response.json({ upstream: url.pathname });
    },
  });
}, 30_000);

afterAll(async () => {
  for (const caddy of proxies) await caddy.stop();
  upstream?.stop(true);
  for (const dir of stateDirs) await rm(dir, { recursive: true, force: true });
}, 30_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("the Caddyfile's proxy block, live", () => {
  test("no spelling of /metrics reaches an instance: each gets linkfort's JSON 404 from Caddy", async () => {
    const port = await caddyInFront();
    for (const path of ["/metrics", "/metrics/", "/METRICS", "//metrics", "/./metrics", "/x/../metrics", "/%6detrics", "/metrics?name=x"]) {
      const before = seen.length;
      const res = await raw(port, path);
      expect([path, res.status, res.headers["content-type"], JSON.parse(res.body)]).toEqual(
        [path, 404, "application/json;charset=utf-8", { error: "Not Found", message: "no route for GET /metrics" }]);
      expect(seen.slice(before)).toEqual([]);
    }
    // Paths that only start like it are ordinary short codes and do reach the instance.
    const code = await raw(port, "/metricsX");
    expect([code.status, JSON.parse(code.body)]).toEqual([200, { upstream: "/metricsX" }]);
  });

  test("every request reaches the instance with a fresh UUID in X-Request-Id, replacing the client's own", async () => {
    const port = await caddyInFront();
    const before = seen.length;
    await raw(port, "/abc", { "X-Request-Id": "chosen-by-client" });
    await raw(port, "/abc");
    const ids = seen.slice(before).map((s) => s.headers["x-request-id"]!);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id).toMatch(UUID);
    expect(ids[0]).not.toBe(ids[1]);
  });

  test("X-Forwarded-For from an untrusted client is replaced by its address; a trusted proxy's is extended", async () => {
    // The test client connects from 127.0.0.1: trusted by default (a local proxy in front), untrusted here.
    const untrusted = await caddyInFront({ LINKFORT_TRUSTED_PROXIES: "192.0.2.0/24" });
    let before = seen.length;
    await raw(untrusted, "/abc", { "X-Forwarded-For": "203.0.113.9" });
    expect(seen.slice(before).map((s) => s.headers["x-forwarded-for"])).toEqual(["127.0.0.1"]);

    const trusted = await caddyInFront();
    before = seen.length;
    await raw(trusted, "/abc", { "X-Forwarded-For": "203.0.113.9" });
    expect(seen.slice(before).map((s) => s.headers["x-forwarded-for"])).toEqual(["203.0.113.9, 127.0.0.1"]);
  });

  test("no HSTS over plain http (browsers ignore it there; a domain site sends it over https)", async () => {
    const port = await caddyInFront();
    const res = await raw(port, "/abc");
    expect(res.status).toBe(200);
    expect(res.headers["strict-transport-security"]).toBeUndefined();
  });
});
