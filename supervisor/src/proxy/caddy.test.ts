/**
 * Caddy as the quick start runs it, live. Regression: its admin API, which can rewrite the whole
 * config, listened on TCP loopback where any local user could reach it; and bodies of any size
 * reached the instances, which then had to read them to refuse them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../../service/src/lib/logger.ts";
import { freePort } from "../../../service/test/ports.ts";
import { requireTool } from "../../../service/test/tools.ts";
import { adminOverSocket, startCaddy, type RunningCaddy } from "./caddy.ts";

let caddy: RunningCaddy;
let upstream: ReturnType<typeof Bun.serve>;
let dataDir: string;
let publicPort: number;
const reached: string[] = [];

beforeAll(async () => {
  upstream = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      const bytes = (await request.arrayBuffer()).byteLength;
      if (path !== "/ready") reached.push(`${request.method} ${path} ${bytes}`);
      return Response.json({ status: "ready", bytes });
    },
  });
  dataDir = await mkdtemp(join(tmpdir(), "linkfort-caddy-"));
  publicPort = await freePort();
  caddy = await startCaddy({
    bin: requireTool("caddy"), caddyfile: join(import.meta.dir, "../../../Caddyfile"), publicPort, upstreams: [`127.0.0.1:${upstream.port}`],
    dataDir, baseEnv: { PATH: process.env.PATH }, output: "ignore", logger: silentLogger,
  });
}, 30_000);

afterAll(async () => {
  await caddy?.stop();
  upstream?.stop(true);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 30_000);

/** The TCP ports a process listens on: its socket inodes, looked up in /proc/net/tcp{,6}. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: "utf8" }) ?? "");
    if (m) inodes.add(m[1]!);
  }
  const ports = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(f[9]!)) ports.add(parseInt(f[1]!.split(":")[1]!, 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

/** Sends a request head (with a Content-Length and no body) and returns the answer's status and body. */
async function head(method: string, path: string, contentLength: number) {
  const chunks: Uint8Array[] = [];
  const { promise: closed, resolve } = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1", port: publicPort,
    socket: { data(_, c) { chunks.push(c); }, close() { resolve(); }, error() { resolve(); } },
  });
  socket.write(`${method} ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\n\r\n`);
  await Promise.race([closed, Bun.sleep(5_000)]);
  socket.end();
  const text = Buffer.concat(chunks).toString();
  return { status: Number(text.split(" ")[1]), body: text.slice(text.indexOf("\r\n\r\n") + 4), text };
}

describe("Caddy's admin API", () => {
  test("is a unix socket in a directory only its user may enter, and Caddy listens on no TCP port for it", async () => {
    const socket = join(dataDir, "caddy", "admin.sock");
    expect(caddy.admin).toBe(`unix/${socket}`);
    expect(statSync(join(dataDir, "caddy")).mode & 0o777).toBe(0o700);
    expect(statSync(socket).isSocket()).toBe(true);
    // Connecting needs write permission on the socket: nobody but its owner has it.
    expect(statSync(socket).mode & 0o022).toBe(0);
    const config = await adminOverSocket(socket, "/config/admin");
    expect(config).toStartWith("HTTP/1.0 200");
    expect(JSON.parse(config.slice(config.indexOf("\r\n\r\n") + 4))).toEqual({ listen: `unix/${socket}` });
    const metricsPort = Number(caddy.metrics.split(":")[1]);
    expect(listeningPorts(caddy.pid)).toEqual([publicPort, metricsPort].sort((a, b) => a - b));
  });

  test("Caddy's metrics are on their own loopback port, and only they", async () => {
    const metrics = await fetch(`http://${caddy.metrics}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("caddy_reverse_proxy_upstreams_healthy");
    const config = await fetch(`http://${caddy.metrics}/config/`);
    expect(config.status).toBe(200);
    // Any path answers metrics, never the config the admin API would give.
    expect(await config.text()).not.toContain('"apps"');
  });
});

describe("body limits at the edge", () => {
  test("a JSON body declared above 1 MiB is a JSON 413 from Caddy, and no instance sees it", async () => {
    reached.length = 0;
    const r = await head("POST", "/urls", 1024 * 1024 + 1);
    expect(r.status, r.text).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ error: "Payload Too Large", message: "request body is larger than 1048576 bytes", limit_bytes: 1048576 });
    expect(reached).toEqual([]);
  });

  test("an upload declared above 10 MiB and its envelope is a JSON 413; one within it reaches the instance", async () => {
    reached.length = 0;
    const r = await head("POST", "/users/bulk", 10 * 1024 * 1024 + 64 * 1024 + 1);
    expect(r.status, r.text).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ error: "Payload Too Large", message: "request body is larger than 10551296 bytes", limit_bytes: 10551296 });
    expect(reached).toEqual([]);
    const within = await fetch(`http://127.0.0.1:${publicPort}/users/bulk`, { method: "POST", body: new Uint8Array(2 * 1024 * 1024) });
    expect(within.status).toBe(200);
    expect(reached).toEqual([`POST /users/bulk ${2 * 1024 * 1024}`]);
  });

  test("a JSON body within 1 MiB reaches the instance whole", async () => {
    reached.length = 0;
    const res = await fetch(`http://127.0.0.1:${publicPort}/urls`, { method: "POST", body: "x".repeat(1024 * 1024) });
    expect(await res.json()).toEqual({ status: "ready", bytes: 1024 * 1024 });
    expect(reached).toEqual([`POST /urls ${1024 * 1024}`]);
  });
});
