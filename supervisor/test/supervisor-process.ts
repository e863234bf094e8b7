/**
 * `bun supervisor/src/main.ts …` as a child process, the way a terminal or systemd runs it:
 * its own process group (so a test can send SIGINT to the whole group, as Ctrl-C does), its
 * output collected, log lines parsed, and its whole process tree recorded by PID.
 */
import { chmod, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { descendants } from "./processes.ts";
import { captureOutput } from "../../service/test/output.ts";
import { waitFor as waitForCondition } from "../../service/test/wait.ts";

export const ROOT = join(import.meta.dir, "../..");

export interface SupervisorProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  output(): string;
  /** Parsed JSON log lines so far. */
  logs(): Record<string, unknown>[];
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** The start banner's admin key (supervisor/src/banner.ts), once the banner is out; undefined when it shows none. */
  waitForBannerKey(timeoutMs?: number): Promise<string | undefined>;
  /** Every process below the supervisor right now. */
  tree(): number[];
}

/** A temporary DATA_DIR the `postgres` system user can enter (embedded PostgreSQL runs as it under root). */
export async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "linkfort-sup-"));
  await chmod(dir, 0o755);
  return dir;
}

/** `command`: what runs the supervisor (default `bun supervisor/src/main.ts`; a compiled binary's path). */
export function spawnSupervisor(args: string[], env: Record<string, string>, command: string[] = [process.execPath, join(ROOT, "supervisor/src/main.ts")]): SupervisorProcess {
  const base: Record<string, string> = {};
  // No DATABASE_URL or test settings leak in from the test runner's environment.
  for (const key of ["PATH", "HOME", "LANG", "TMPDIR"]) if (process.env[key]) base[key] = process.env[key]!;
  const proc = Bun.spawn([...command, ...args], {
    cwd: ROOT, env: { ...base, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true,
  });
  const output = captureOutput(proc.stdout, proc.stderr);
  const logs = () => output().split("\n").filter((l) => l.startsWith("{")).flatMap((l) => {
    try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; }
  });
  // The shared wait, failing at once when the supervisor exits, and showing its output either way.
  const waitFor = <T>(what: string, find: () => T | undefined, timeoutMs: number): Promise<T> =>
    waitForCondition(what, () => {
      const found = find();
      if (found === undefined && proc.exitCode !== null) throw new Error(`supervisor exited (${proc.exitCode}) before ${what}`);
      return found;
    }, timeoutMs, { everyMs: 50 }).catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}:\n${output().slice(-4000)}`);
    });
  return {
    proc, output, logs, tree: () => descendants(proc.pid),
    waitForLog: (msg, timeoutMs = 30_000) => waitFor(`"${msg}"`, () => logs().find((l) => l.msg === msg), timeoutMs),
    async waitForBannerKey(timeoutMs = 60_000) {
      const banner = await waitFor("the start banner", () => /^  linkfort is running\n[^]*?Ctrl-C stops everything\./m.exec(output())?.[0], timeoutMs);
      return /^\s+admin API key\s+(lf_\w+)/m.exec(banner)?.[1];
    },
  };
}
