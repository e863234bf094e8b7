/**
 * Child processes the harness owns: each is tracked by PID and stopped by that PID (never by
 * name: other engineers run their own redis-server, caddy and postgres on this machine).
 */
import { readFileSync } from "node:fs";
import type { Subprocess } from "bun";

export interface Child {
  name: string;
  pid: number;
  proc: Subprocess;
  stop(): Promise<void>;
}

const owned: Child[] = [];
const cleanups: (() => Promise<void>)[] = [];

function alive(proc: Subprocess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

export function spawnChild(name: string, cmd: string[], opts: { env?: Record<string, string>; cwd?: string; quiet?: boolean } = {}): Child {
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...opts.env },
    // A pipe we hold: instances with EXIT_WITH_STDIN=true exit when the harness dies, even by kill -9.
    stdin: "pipe",
    stdout: opts.quiet === false ? "inherit" : "ignore",
    stderr: opts.quiet === false ? "inherit" : "ignore",
  });
  const child: Child = {
    name, pid: proc.pid, proc,
    async stop() {
      if (!alive(proc)) return;
      process.kill(proc.pid, "SIGTERM");
      const late = await Promise.race([proc.exited.then(() => false), Bun.sleep(8_000).then(() => true)]);
      if (late && alive(proc)) process.kill(proc.pid, "SIGKILL");
      await proc.exited;
    },
  };
  owned.push(child);
  return child;
}

/** Something that is not a child of ours but must be stopped at the end (embedded PostgreSQL). */
export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

/** Stops every child (newest first, so Caddy goes before its upstreams), then the cleanups. */
export async function stopAll(): Promise<void> {
  while (owned.length > 0) await owned.pop()!.stop().catch(() => {});
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
}

let hooked = false;
/** Ctrl-C and crashes still stop what we started; a synchronous exit can only SIGKILL. */
export function installExitHooks(): void {
  if (hooked) return;
  hooked = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => { void stopAll().finally(() => process.exit(130)); });
  }
  process.on("exit", () => {
    for (const c of owned) if (alive(c.proc)) try { process.kill(c.pid, "SIGKILL"); } catch { /* gone */ }
  });
}

/** Resident set size in MB from /proc (what the supervisor's memory limit also looks at). */
export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb ? Math.round(Number(kb) / 102.4) / 10 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a process has used so far; CLK_TCK is 100 on Linux x86-64. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" of the command name: utime is field 14, stime 15 (1-based).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

export async function freePort(): Promise<number> {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** Polls until `url` answers `status` (default 200) or the child died or time ran out. */
export async function waitHttp(url: string, child: Child | undefined, timeoutMs = 30_000, status = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(1000) })
      .then(async (r) => { await r.arrayBuffer(); return r.status === status; }, () => false);
    if (ok) return;
    if (child && !alive(child.proc)) throw new Error(`${child.name} exited (${child.proc.exitCode}) before ${url} answered`);
    if (Date.now() > deadline) throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

/** Runs a script's main, reports a failure through `log` with exit code 1, and always stops every child. */
export async function runScript(main: () => Promise<void>, log: (line: string) => void): Promise<void> {
  try {
    await main();
  } catch (err) {
    log(`failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exitCode = 1;
  } finally {
    await stopAll();
  }
}
