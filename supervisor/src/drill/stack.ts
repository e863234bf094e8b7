/**
 * @module The running stack as the drill sees it, from the supervisor's own config: the public
 * port on loopback (load), the status port (instance PIDs and states), the database (data checks)
 * and each instance's /ready and /health (readiness, the click spool). Every call has a timeout.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { embeddedDatabaseUrl } from "../../../service/src/lib/embedded-postgres.ts";
import type { SupervisorConfig } from "../config.ts";
import { controlTokenPath } from "../status/control-token.ts";
import type { InstanceSnapshot, StatusSnapshot } from "../status/snapshot.ts";
import { readSpoolBacklog } from "../watch/spool.ts";

export interface Stack {
  /** http://127.0.0.1:PUBLIC_PORT: where the load goes, and nowhere else. */
  publicUrl: string;
  publicPort: number;
  statusUrl: string;
  databaseUrl: string;
  /** The embedded PostgreSQL's data directory; null when DATABASE_URL names another server. */
  embeddedPgDir: string | null;
  redisUrl: string | undefined;
  controlTokenFile: string;
  /** Caddy's admin socket: the quick start's (DATA_DIR/caddy), else the Caddyfile's default under systemd (/run/caddy). */
  caddyAdminSocket: string;
  /** Where the instances' click spools may be, most likely first: CLICK_SPOOL_DIR as the drill was given it, DATA_DIR/spool, the systemd unit's. */
  spoolRoots: string[];
  instanceUrl(port: number, path: string): string;
  /** CONSOLE_SCRAPE_MS and CLICKS_DROPPED_QUIET_MS: how soon the supervisor can raise its clicks-dropped alert, and resolve it. */
  scrapeMs: number;
  clicksDroppedQuietMs: number;
}

const PROBE_MS = 1_000;
/** The Caddyfile's admin socket when deploy/install.sh runs Caddy (its drop-in makes /run/caddy, for Caddy's user and root). */
const SYSTEMD_CADDY_ADMIN_SOCKET = "/run/caddy/admin.sock";
/** linkfort@.service's spools: DATA_DIR=./data from its working directory, /var/lib/linkfort. */
const SYSTEMD_SPOOL_ROOT = "/var/lib/linkfort/data/spool";

export function stackFromConfig(config: SupervisorConfig): Stack {
  const host = (h: string) => (h.includes(":") ? `[${h}]` : h);
  return {
    publicUrl: `http://127.0.0.1:${config.publicPort}`,
    publicPort: config.publicPort,
    statusUrl: `http://${host(config.statusHost)}:${config.statusPort}`,
    databaseUrl: config.databaseUrl ?? embeddedDatabaseUrl(config.embeddedPgPort),
    embeddedPgDir: config.databaseUrl ? null : join(resolve(config.dataDir), "postgres"),
    redisUrl: config.redisUrl,
    controlTokenFile: controlTokenPath(config),
    caddyAdminSocket: [join(resolve(config.dataDir), "caddy", "admin.sock"), SYSTEMD_CADDY_ADMIN_SOCKET].find((p) => existsSync(p))
      ?? join(resolve(config.dataDir), "caddy", "admin.sock"),
    spoolRoots: [...(process.env.CLICK_SPOOL_DIR ? [resolve(process.env.CLICK_SPOOL_DIR)] : []), join(resolve(config.dataDir), "spool"), SYSTEMD_SPOOL_ROOT],
    instanceUrl: (port, path) => `http://${host(config.instanceHost)}:${port}${path}`,
    scrapeMs: config.consoleScrapeMs,
    clicksDroppedQuietMs: config.clicksDroppedQuietMs,
  };
}

/** The daemon's /status, or null when it does not answer. */
export async function readStatus(stack: Stack): Promise<StatusSnapshot | null> {
  try {
    const res = await fetch(`${stack.statusUrl}/status`, { signal: AbortSignal.timeout(PROBE_MS) });
    return res.ok ? ((await res.json()) as StatusSnapshot) : null;
  } catch {
    return null;
  }
}

/** The process runs: it exists and is not a zombie (a killed child its parent has not reaped yet). */
export const alive = (pid: number | null): boolean => {
  if (pid === null) return false;
  try { process.kill(pid, 0); } catch { return false; }
  try {
    // /proc/PID/stat: "pid (comm) STATE …"; comm may hold spaces and parentheses, so split at the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc: the signal check is all there is
  }
};

async function answersReady(stack: Stack, port: number): Promise<boolean> {
  try {
    const res = await fetch(stack.instanceUrl(port, "/ready"), { signal: AbortSignal.timeout(PROBE_MS) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Every instance ready now: the daemon says so, its process is alive (the daemon's state lags a
 * SIGKILL by a probe or three), and it answers /ready itself.
 */
export async function allInstancesReady(stack: Stack): Promise<boolean> {
  const status = await readStatus(stack);
  if (!status || status.instances.length === 0) return false;
  const ready = (i: InstanceSnapshot) => i.state === "ready" && alive(i.pid);
  if (!status.instances.every(ready)) return false;
  return (await Promise.all(status.instances.map((i) => answersReady(stack, i.port)))).every(Boolean);
}

/** Every instance's /health says its spool holds no unshipped click. */
export async function spoolsDrained(stack: Stack): Promise<boolean> {
  const status = await readStatus(stack);
  if (!status) return false;
  const spools = await Promise.all(status.instances.map((i) => readSpoolBacklog(stack.instanceUrl(i.port, "/health"), PROBE_MS)));
  return spools.every((s) => s !== null && s.unshipped_clicks === 0);
}

/** Polls `check` every `everyMs` until it holds or `timeoutMs` passes; returns when it held (performance.now()), or null. */
export async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<number | null> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return performance.now();
    await Bun.sleep(everyMs);
  }
  return null;
}

/** The instances the daemon lists whose process is alive, with their ports. */
export async function instancePids(stack: Stack): Promise<{ port: number; pid: number }[]> {
  const status = await readStatus(stack);
  if (!status) throw new Error(`the supervisor's status port does not answer (${stack.statusUrl})`);
  const running = status.instances.filter((i): i is typeof i & { pid: number } => i.pid !== null && alive(i.pid));
  if (running.length === 0) throw new Error("no instance is running");
  return running.map((i) => ({ port: i.port, pid: i.pid }));
}

/** One running instance, the middle one of the list (the same one each time for the same fleet). */
export const pickInstance = async (stack: Stack) => {
  const all = await instancePids(stack);
  return all[Math.floor(all.length / 2)]!;
};
