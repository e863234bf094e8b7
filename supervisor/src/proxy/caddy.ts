/**
 * @module Caddy in front of the quick start's instances: the repository's Caddyfile, with the
 * upstreams, public port and admin address handed over as environment variables the Caddyfile
 * reads ({$LINKFORT_UPSTREAMS} …). Caddy's active health checks on /ready and its retries are
 * what make a kill -9 or a rolling restart invisible to clients.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Logger } from "../../../service/src/lib/logger.ts";

export interface CaddyOptions {
  /** Path of the caddy binary (Bun.which("caddy")). */
  bin: string;
  caddyfile: string;
  publicPort: number;
  /** host:port of each instance. */
  upstreams: string[];
  /** Loopback host:port for Caddy's admin endpoint. */
  adminAddress: string;
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

async function adminAnswers(address: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${address}/config/`, { signal: AbortSignal.timeout(500) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
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
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.baseEnv)) if (v !== undefined) env[k] = v;
  Object.assign(env, {
    LINKFORT_UPSTREAMS: opts.upstreams.join(" "),
    LINKFORT_PUBLIC_PORT: String(opts.publicPort),
    LINKFORT_CADDY_ADMIN: opts.adminAddress,
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
  const up = async () => (await adminAnswers(opts.adminAddress)) && (await accepts(opts.publicPort)) && proc.exitCode === null;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  while (!(await up())) {
    if (proc.exitCode !== null) throw new Error(`caddy exited with code ${proc.exitCode} before listening on ${opts.publicPort} (port taken? see its log above)`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`caddy did not listen on ${opts.publicPort} within ${opts.startTimeoutMs ?? 10_000} ms`);
    }
    await Bun.sleep(50);
  }
  log.info("caddy started", { pid: proc.pid, public_port: opts.publicPort, upstreams: opts.upstreams, admin: opts.adminAddress });
  return { pid: proc.pid, stop };
}
