/**
 * Long-running binaries for the live test (Prometheus, Alertmanager, the exporters): spawned with
 * their output kept for failure messages, ready when an HTTP URL answers 200, stopped by PID.
 */
import type { Subprocess } from "bun";
import { captureOutput } from "../../service/test/output.ts";
import { waitFor } from "../../service/test/wait.ts";

export interface Daemon {
  name: string;
  pid: number;
  output(): string;
  /** SIGTERM, SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>;
}

export async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * The shared waitFor (service/test/wait.ts) as these tests use it: a check that throws counts as
 * "not yet" (a busy machine, a server still starting), every 100 ms unless told.
 */
export function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 100): Promise<T> {
  return waitFor(what, check, timeoutMs, { everyMs, retryErrors: true });
}

/** Runs one step of a test's setup; a failure says which step. */
export async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

export async function startDaemon(opts: { name: string; argv: string[]; env?: Record<string, string>; readyUrl: string; timeoutMs?: number }): Promise<Daemon> {
  const proc: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn(opts.argv, {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...opts.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe",
  });
  const output = captureOutput(proc.stdout, proc.stderr);
  const daemon: Daemon = {
    name: opts.name, pid: proc.pid, output,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timedOut = await Promise.race([proc.exited.then(() => false), Bun.sleep(5_000).then(() => true)]);
      if (timedOut) proc.kill("SIGKILL");
      await proc.exited;
    },
  };
  try {
    const state = await until(`${opts.name} at ${opts.readyUrl}`,
      async () => (proc.exitCode !== null ? "exited" : (await httpOk(opts.readyUrl)) && "ready"), opts.timeoutMs ?? 20_000);
    if (state === "exited") throw new Error(`${opts.name} exited with ${proc.exitCode}`);
  } catch (error) {
    await daemon.stop();
    throw new Error(`${(error as Error).message}\n${output().slice(-3000)}`);
  }
  return daemon;
}
