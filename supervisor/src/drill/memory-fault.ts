/**
 * @module The instance-memory drill: one instance over its memory limit, with the real enforcement
 * acting and nothing simulated inside the service. Two limits exist, and the drill uses the one
 * that can act on this stack:
 * - the kernel's, under systemd when the unit's cgroup has the memory controller (cgroup v2, or a
 *   writable v1 hierarchy): the unit's MemoryMax= (linkfort@.service) lowered at runtime
 *   (`systemctl set-property --runtime`) below the instance's resident memory, with swap off for the
 *   unit so the kernel cannot page its way under it; the kernel's OOM killer ends the process and
 *   systemd (Restart=always) starts it again. The unit's own values are then set back and the
 *   runtime drop-ins the drill made removed, so the unit is configured as before;
 * - the supervisor's (INSTANCE_MEMORY_LIMIT_MB) everywhere else, the quick start included: its
 *   POST /memory-limit (control token, DRILLS=on) lowers the limit for the instance's current
 *   process below its RSS, and the watcher replaces it gracefully (drain, start), as it does one
 *   that grew.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { readControlToken } from "../status/control-token.ts";
import { readRssBytes } from "../watch/memory.ts";
import { unitOf } from "./pids.ts";
import { alive, pickInstance, pollUntil, readStatus, type Stack } from "./stack.ts";

/** The unit properties the drill changes and sets back. */
export const MEMORY_PROPERTIES = ["MemoryMax", "MemorySwapMax"] as const;
type MemoryProperty = (typeof MEMORY_PROPERTIES)[number];
/** The kernel's reclaim, then its OOM kill, happen while systemd writes memory.max: a few seconds at most. */
const KILL_DEADLINE_MS = 10_000;
/** Where `set-property --runtime` keeps a unit's changes (systemd.unit(5), "system.control"). */
const RUNTIME_CONTROL_DIR = "/run/systemd/system.control";

/** An instance's systemd unit name, linkfort@PORT.service, or null when it is not one. */
export const isInstanceUnit = (unit: string | null): unit is string => unit !== null && /^linkfort@\d+\.service$/.test(unit);

/**
 * The limit to set: half of what the instance holds resident, in whole pages. Its heap cannot be
 * reclaimed without swap, so the kernel must kill it; half leaves no doubt on a busy machine
 * where the RSS moves while the drill reads it.
 */
export function loweredLimitBytes(rssBytes: number): number {
  if (!Number.isFinite(rssBytes) || rssBytes < 2 * 4096) throw new Error(`an instance's resident memory of ${rssBytes} bytes is too small to go under`);
  return Math.floor(rssBytes / 2 / 4096) * 4096;
}

/** `systemctl show -p A -p B UNIT` output ("A=value" lines) as a map. */
export function parseShow(text: string): Map<string, string> {
  const props = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) props.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return props;
}

/** The `set-property` assignments that give the unit back the values it had ("805306368", "infinity"). */
export function restoreAssignments(before: Map<string, string>): string[] {
  return MEMORY_PROPERTIES.map((p: MemoryProperty) => {
    const value = before.get(p);
    if (!value) throw new Error(`systemctl show gave no ${p}`);
    return `${p}=${value}`;
  });
}

/** The drop-in file `set-property --runtime` writes for one property of a unit. */
export const runtimeDropIn = (unit: string, property: MemoryProperty) => `${RUNTIME_CONTROL_DIR}/${unit}.d/50-${property}.conf`;

function systemctl(args: string[]): string {
  const run = Bun.spawnSync(["systemctl", ...args], { stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  if (run.exitCode !== 0) throw new Error(`systemctl ${args.join(" ")} failed: ${run.stderr.toString().trim() || `exit ${run.exitCode}`}`);
  return run.stdout.toString();
}

/**
 * The file where the kernel holds a unit's memory limit (v2 memory.max, v1 memory.limit_in_bytes),
 * when it holds the limit systemd gave the unit (`MemoryMax` from systemctl show, bytes or
 * "infinity"); null when the unit's cgroup has no memory controller (e.g. a container on a cgroup v1
 * host, where systemd cannot write it), so lowering MemoryMax= would change nothing.
 */
export function kernelLimitFile(controlGroup: string, unitMemoryMax: string, root = "/sys/fs/cgroup"): string | null {
  for (const file of [`${root}${controlGroup}/memory.max`, `${root}/memory${controlGroup}/memory.limit_in_bytes`]) {
    let value = "";
    try { value = readFileSync(file, "utf8").trim(); } catch { continue; }
    if (value === unitMemoryMax || (unitMemoryMax === "infinity" && value === "max")) return file;
  }
  return null;
}

/** Why the kernel's limit cannot be drilled on this instance, or null when it can. */
function kernelLimitRefusal(unit: string | null): string | null {
  if (!isInstanceUnit(unit)) return "the instance does not run in a linkfort@ unit";
  if (process.getuid?.() !== 0) return "systemctl set-property needs root";
  const show = parseShow(systemctl(["show", "-p", "ControlGroup", "-p", "MemoryMax", unit]));
  const memoryMax = show.get("MemoryMax") ?? "";
  return kernelLimitFile(show.get("ControlGroup") ?? "", memoryMax) ? null
    : `the kernel holds no MemoryMax=${memoryMax} for ${unit} (its cgroup has no writable memory controller)`;
}

/** One instance over its memory limit, through the kernel's when it can act here, else the supervisor's. */
export async function instanceOverMemoryLimit(stack: Stack): Promise<string> {
  const { port, pid } = await pickInstance(stack);
  const unit = unitOf(pid);
  const refusal = kernelLimitRefusal(unit);
  if (refusal === null) return overKernelLimit(pid, unit!);
  return `${await overSupervisorLimit(stack, port, pid)} (not the kernel's MemoryMax=: ${refusal})`;
}

const MB = 1024 * 1024;
/** The watcher replaces an instance within a probe or two, then drains it (SHUTDOWN_DRAIN_MS) and starts it again. */
const REPLACE_DEADLINE_MS = 60_000;

async function overSupervisorLimit(stack: Stack, port: number, pid: number): Promise<string> {
  const rss = await readRssBytes(pid) ?? (await readStatus(stack))?.instances.find((i) => i.port === port)?.rss_bytes ?? null;
  if (rss === null) throw new Error(`cannot read the resident memory of pid ${pid}`);
  const mb = Math.max(1, Math.floor(loweredLimitBytes(rss) / MB));
  const token = await readControlToken(stack.controlTokenFile);
  if (!token.ok) throw new Error(token.error);
  const res = await fetch(`${stack.statusUrl}/memory-limit`, {
    method: "POST", headers: { authorization: `Bearer ${token.token}`, "content-type": "application/json" },
    body: JSON.stringify({ port, mb }), signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => ({}))) as { ok?: boolean; detail?: string; message?: string };
  if (!body.ok) throw new Error(`POST /memory-limit answered ${res.status}: ${body.detail ?? body.message ?? "no detail"}`);
  const replaced = await pollUntil(async () => {
    const now = (await readStatus(stack))?.instances.find((i) => i.port === port)?.pid ?? null;
    return now !== null && now !== pid;
  }, REPLACE_DEADLINE_MS, 100);
  if (replaced === null) throw new Error(`the supervisor did not replace the instance on ${port} (pid ${pid}, RSS ${Math.round(rss / MB)} MB) within ${REPLACE_DEADLINE_MS / 1000} s of its limit going to ${mb} MB`);
  return `POST /memory-limit: ${body.detail}; the supervisor's watcher replaced it (drained, started again)`;
}

/** What the kernel path does to the machine; tests replace it (the real one needs systemd as PID 1 and root). */
export interface KernelOps {
  systemctl(args: string[]): string;
  alive(pid: number): boolean;
  rss(pid: number): Promise<number | null>;
  exists(file: string): boolean;
  remove(file: string): void;
  killDeadlineMs: number;
}
const realOps: KernelOps = { systemctl, alive, rss: readRssBytes, exists: existsSync, remove: (f) => rmSync(f, { force: true }), killDeadlineMs: KILL_DEADLINE_MS };

/** Puts one instance over its unit's MemoryMax=; resolves once the kernel killed it and the unit's values are back. */
export async function overKernelLimit(pid: number, unit: string, ops: KernelOps = realOps): Promise<string> {
  const rss = await ops.rss(pid);
  if (rss === null) throw new Error(`cannot read the resident memory of pid ${pid}`);
  const limit = loweredLimitBytes(rss);
  const before = parseShow(ops.systemctl(["show", ...MEMORY_PROPERTIES.flatMap((p) => ["-p", p]), unit]));
  const restore = restoreAssignments(before);
  const madeDropIns = MEMORY_PROPERTIES.map((p) => runtimeDropIn(unit, p)).filter((f) => !ops.exists(f));
  let killed: number | null = null;
  let result = "";
  try {
    // Swap off first, in a call of its own (one call writes its properties in systemd's order):
    // with swap the kernel could page the heap out instead of killing.
    ops.systemctl(["set-property", "--runtime", unit, "MemorySwapMax=0"]);
    ops.systemctl(["set-property", "--runtime", unit, `MemoryMax=${limit}`]);
    killed = await pollUntil(async () => !ops.alive(pid), ops.killDeadlineMs, 20);
    // Proof it was the OOM kill: read before RestartSec (1 s) starts it again, which resets Result.
    if (killed !== null) {
      await pollUntil(async () => (result = parseShow(ops.systemctl(["show", "-p", "Result", unit])).get("Result") ?? "") === "oom-kill", 900, 20);
    }
  } finally {
    // Back before the restart, or the new process would start under the lowered limit.
    ops.systemctl(["set-property", "--runtime", unit, ...restore]);
    if (madeDropIns.length > 0) {
      for (const file of madeDropIns) ops.remove(file);
      ops.systemctl(["daemon-reload"]);
    }
  }
  const mb = (b: number) => `${Math.round(b / MB)} MB`;
  if (killed === null) throw new Error(`${unit} (pid ${pid}, RSS ${mb(rss)}) still ran ${ops.killDeadlineMs / 1000} s after MemoryMax=${mb(limit)}`);
  if (result !== "oom-kill") throw new Error(`${unit} (pid ${pid}) ended after MemoryMax=${mb(limit)}, but systemd did not record an OOM kill (Result=${result || "unknown"})`);
  return `${unit} (pid ${pid}, RSS ${mb(rss)}): MemoryMax=${mb(limit)} and MemorySwapMax=0 at runtime; the kernel's OOM killer ended it (Result=oom-kill), `
    + `systemd starts it again (Restart=); ${restore.join(" ")} set back`;
}
