/**
 * @module Caddy in front of the quick start's instances: the repository's Caddyfile, with the
 * upstreams, public port, admin socket and metrics address handed over as environment variables
 * the Caddyfile reads ({$LINKFORT_UPSTREAMS} …). Caddy's active health checks on /ready and its
 * retries are what make a kill -9 or a rolling restart invisible to clients. The admin API, which
 * can rewrite the config, is a unix socket in a directory only this user may enter.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Logger } from "../../../service/src/lib/logger.ts";

export interface CaddyOptions {
  /** Path of the caddy binary (Bun.which("caddy")). */
  bin: string;
  caddyfile: string;
  publicPort: number;
  /** host:port of each instance. */
  upstreams: string[];
  /**
   * Loopback host:port for Caddy's admin endpoint instead of its socket (default: the unix socket
   * `<dataDir>/caddy/admin.sock`, whose directory is 0700).
   */
  adminAddress?: string;
  /** Loopback host:port where Caddy serves its Prometheus metrics (default 127.0.0.1 on a free port). */
  metricsAddress?: string;
  /** Caddy's own state (autosave.json, storage) goes under here instead of the user's home. */
  dataDir: string;
  /** Environment Caddy starts from (LINKFORT_PUBLIC_HOST may come from here). */
  baseEnv: Record<string, string | undefined>;
  output: "inherit" | "ignore";
  logger: Logger;
  /** How long Caddy has to listen on the public port (ms, default 10 s). */
  startTimeoutMs?: number;
}

export interface RunningCaddy {
  pid: number;
  /** Where the admin API listens: `unix/<path>`, or host:port when one was asked for. */
  admin: string;
  /** host:port of Caddy's metrics endpoint. */
  metrics: string;
  /** Resolves when the Caddy process ends, stopped or not. */
  exited: Promise<void>;
  /** Graceful stop (SIGTERM; Caddy finishes in-flight requests), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

async function accepts(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/** Socket paths longer than this do not fit in sockaddr_un (108 bytes with the NUL) on Linux. */
const MAX_SOCKET_PATH = 107;

async function adminAnswers(address: string): Promise<boolean> {
  if (address.startsWith("unix/")) return (await adminOverSocket(address.slice("unix/".length), "/config/")).startsWith("HTTP/1.0 200");
  try {
    const res = await fetch(`http://${address}/config/`, { signal: AbortSignal.timeout(500) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * One GET (or, with `post`, a POST of a JSON body) to the admin socket, answered as raw text (""
 * when nothing answers). HTTP/1.0 without a Host header: Caddy 2.6 accepts only an empty Host on
 * its socket, which fetch cannot send.
 */
export async function adminOverSocket(path: string, uri: string, timeoutMs = 500, post?: { body: string; headers?: Record<string, string> }): Promise<string> {
  const chunks: Uint8Array[] = [];
  const { promise: closed, resolve } = Promise.withResolvers<void>();
  try {
    const socket = await Bun.connect({ unix: path, socket: { data(_, c) { chunks.push(c); }, close() { resolve(); }, error() { resolve(); } } });
    if (post) {
      const headers = Object.entries({ "Content-Type": "application/json", ...post.headers, "Content-Length": String(Buffer.byteLength(post.body)) });
      socket.write(`POST ${uri} HTTP/1.0\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n${post.body}`);
    } else socket.write(`GET ${uri} HTTP/1.0\r\n\r\n`);
    const timedOut = await Promise.race([closed.then(() => false), Bun.sleep(timeoutMs).then(() => true)]);
    if (timedOut) socket.end();
  } catch {
    return "";
  }
  return Buffer.concat(chunks).toString();
}

/** A free loopback port (Bun picks one; it is released before Caddy takes it). */
function freeLoopbackPort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}

/** Whether to run Caddy, from SUPERVISOR_CADDY: the binary's path, or null for "share the port". */
export function findCaddy(mode: "auto" | "on" | "off"): string | null {
  if (mode === "off") return null;
  const bin = Bun.which("caddy");
  if (!bin && mode === "on") throw new Error("SUPERVISOR_CADDY=on but no `caddy` on PATH (Debian: apt install caddy)");
  return bin;
}

export async function startCaddy(opts: CaddyOptions): Promise<RunningCaddy> {
  if (!existsSync(opts.caddyfile)) throw new Error(`no Caddyfile at ${resolve(opts.caddyfile)} (run from the repository, or set SUPERVISOR_CADDY=off)`);
  const state = resolve(opts.dataDir, "caddy");
  await mkdir(state, { recursive: true, mode: 0o700 });
  // mkdir's mode does not change a directory that exists: the socket's safety is this mode.
  await chmod(state, 0o700);
  const socket = join(state, "admin.sock");
  if (!opts.adminAddress && socket.length > MAX_SOCKET_PATH) {
    throw new Error(`the admin socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter DATA_DIR`);
  }
  // A socket left by a Caddy that was killed would make the new one fail to listen.
  if (!opts.adminAddress) await rm(socket, { force: true });
  const admin = opts.adminAddress ?? `unix/${socket}`;
  const metrics = opts.metricsAddress ?? `127.0.0.1:${freeLoopbackPort()}`;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.baseEnv)) if (v !== undefined) env[k] = v;
  Object.assign(env, {
    LINKFORT_UPSTREAMS: opts.upstreams.join(" "),
    LINKFORT_PUBLIC_PORT: String(opts.publicPort),
    LINKFORT_CADDY_ADMIN: admin,
    LINKFORT_CADDY_METRICS: metrics,
    XDG_CONFIG_HOME: join(state, "config"),
    XDG_DATA_HOME: join(state, "data"),
  });
  const proc = Bun.spawn([opts.bin, "run", "--config", resolve(opts.caddyfile), "--adapter", "caddyfile"], {
    env, stdin: "ignore", stdout: opts.output, stderr: opts.output,
  });
  const log = opts.logger.child({ component: "caddy" });

  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGTERM");
    const timedOut = await Promise.race([proc.exited.then(() => false), Bun.sleep(10_000).then(() => true)]);
    if (timedOut) proc.kill("SIGKILL");
    await proc.exited;
    log.info("caddy stopped", { pid: proc.pid });
  };

  // Both: the public port alone could be some other process that holds it (Caddy then exits).
  const up = async () => (await adminAnswers(admin)) && (await accepts(opts.publicPort)) && proc.exitCode === null;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  while (!(await up())) {
    if (proc.exitCode !== null) throw new Error(`caddy exited with code ${proc.exitCode} before listening on ${opts.publicPort} (port taken? see its log above)`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`caddy did not listen on ${opts.publicPort} within ${opts.startTimeoutMs ?? 10_000} ms`);
    }
    await Bun.sleep(50);
  }
  log.info("caddy started", { pid: proc.pid, public_port: opts.publicPort, upstreams: opts.upstreams, admin, metrics });
  return { pid: proc.pid, admin, metrics, exited: proc.exited.then(() => {}), stop };
}
