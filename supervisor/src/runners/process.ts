/**
 * @module The process runner: spawns one linkfort instance per port as a child process (the
 * quick start and the tests). Instances get a stdin pipe that is never written to and
 * EXIT_WITH_STDIN=true: when the supervisor dies, even by SIGKILL, the kernel closes the pipe,
 * the instances see end of file and drain and exit by themselves.
 */
import type { Subprocess } from "bun";
import type { Logger, LogLevel } from "../../../service/src/lib/logger.ts";
import type { ExitEvent, InstanceInfo, RestartOptions, Runner } from "./runner.ts";
import { INSTANCE_RUNTIME_ENV } from "../../../service/src/lib/runtime-env.ts";

export interface ProcessRunnerOptions {
  /** argv that runs one instance, e.g. ["dist/linkfort", "serve"]; settings go in the environment. */
  command: string[];
  /** Working directory of the instances (default the supervisor's). */
  cwd?: string;
  /** Environment every instance starts from (the supervisor's own, from main.ts). */
  baseEnv: Record<string, string | undefined>;
  /** Address the instances bind (HOST). */
  host: string;
  /** Port an instance listens on: its own (default), or the shared public port when there is no Caddy. */
  listenPort?: (port: number) => number;
  databaseUrl: string;
  /** SHUTDOWN_DRAIN_MS passed to the instances (ms). */
  drainMs: number;
  accessLog: boolean;
  logLevel: LogLevel;
  /** LINKFORT_SEED: CSV folder the instances import into an empty database (they take a lock). */
  seed?: string;
  /** Extra environment per port, applied last (tests: a bad DATABASE_URL for one instance). */
  extraEnv?: (port: number) => Record<string, string>;
  /** A stopping instance still running after this long is killed (ms). */
  stopTimeoutMs: number;
  /** "inherit": instance logs go to the supervisor's stdout/stderr (the first admin key shows in the quick start). */
  output: "inherit" | "ignore" | InstanceOutputSink;
  logger: Logger;
}

/** Receives an instance's output as it comes, in chunks (not lines), and which stream it came on. */
export type InstanceOutputSink = (port: number, text: string, stream: "stdout" | "stderr") => void;

interface Child {
  proc: Subprocess<"pipe", "pipe" | "inherit" | "ignore", "pipe" | "inherit" | "ignore">;
  startedAt: number;
  /** Set when we asked it to stop, so its exit is not reported as a crash. */
  stopping: boolean;
}

const running = (child: Child) => child.proc.exitCode === null && child.proc.signalCode === null;

export function createProcessRunner(opts: ProcessRunnerOptions): Runner {
  const children = new Map<number, Child>();
  const listeners = new Set<(event: ExitEvent) => void>();
  const log = opts.logger;
  let closed = false;

  const envFor = (port: number): Record<string, string> => {
    const env: Record<string, string> = { ...INSTANCE_RUNTIME_ENV };
    for (const [k, v] of Object.entries(opts.baseEnv)) if (v !== undefined) env[k] = v;
    Object.assign(env, {
      PORT: String(opts.listenPort?.(port) ?? port),
      HOST: opts.host,
      DATABASE_URL: opts.databaseUrl,
      SHUTDOWN_DRAIN_MS: String(opts.drainMs),
      ACCESS_LOG: String(opts.accessLog),
      LOG_LEVEL: opts.logLevel,
      EXIT_WITH_STDIN: "true",
    });
    if (opts.seed) env.LINKFORT_SEED = opts.seed;
    else delete env.LINKFORT_SEED;
    return { ...env, ...opts.extraEnv?.(port) };
  };

  const pump = async (port: number, stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr", sink: InstanceOutputSink) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) sink(port, decoder.decode(chunk, { stream: true }), name);
  };

  const spawn = (port: number): Child => {
    const stdio = typeof opts.output === "function" ? "pipe" : opts.output;
    const proc = Bun.spawn(opts.command, { cwd: opts.cwd, env: envFor(port), stdin: "pipe", stdout: stdio, stderr: stdio });
    if (typeof opts.output === "function") {
      void pump(port, proc.stdout as ReadableStream<Uint8Array>, "stdout", opts.output);
      void pump(port, proc.stderr as ReadableStream<Uint8Array>, "stderr", opts.output);
    }
    const child: Child = { proc, startedAt: Date.now(), stopping: false };
    log.info("instance started", { port, pid: proc.pid });
    void proc.exited.then(() => onExit(port, child));
    return child;
  };

  const onExit = (port: number, child: Child) => {
    const event: ExitEvent = { port, pid: child.proc.pid, code: child.proc.exitCode, signal: child.proc.signalCode === null ? null : String(child.proc.signalCode) };
    if (children.get(port) === child) children.delete(port);
    if (child.stopping || closed) {
      log.info("instance stopped", { ...event });
      return;
    }
    log.warn("instance exited", { ...event });
    for (const listener of listeners) listener(event);
  };

  const stopChild = async (port: number, child: Child, force: boolean) => {
    child.stopping = true;
    if (!running(child)) return;
    if (force) child.proc.kill("SIGKILL");
    else {
      child.proc.kill("SIGTERM");
      // As systemd does after its stop signal: a SIGSTOPped process must run to act on SIGTERM.
      child.proc.kill("SIGCONT");
    }
    const timedOut = await Promise.race([child.proc.exited.then(() => false), Bun.sleep(opts.stopTimeoutMs).then(() => true)]);
    if (timedOut) {
      log.warn("instance did not stop in time; killing it", { port, pid: child.proc.pid, timeout_ms: opts.stopTimeoutMs });
      child.proc.kill("SIGKILL");
      await child.proc.exited;
    }
  };

  const stop = async (port: number, force = false) => {
    const child = children.get(port);
    if (child) await stopChild(port, child, force);
  };

  const start = async (port: number) => {
    if (closed) throw new Error("the process runner is closed");
    const current = children.get(port);
    if (current && running(current)) return;
    children.set(port, spawn(port));
  };

  const status = async (port: number): Promise<InstanceInfo> => {
    const child = children.get(port);
    const active = child !== undefined && running(child);
    return { port, active, pid: active ? child.proc.pid : null, startedAt: active ? child.startedAt : null };
  };

  return {
    kind: "process",
    start,
    stop: (port) => stop(port),
    async restart(port, restartOpts: RestartOptions = {}) {
      await stop(port, restartOpts.force ?? false);
      await start(port);
    },
    isActive: async (port) => (await status(port)).active,
    pid: async (port) => (await status(port)).pid,
    status,
    onUnexpectedExit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      await Promise.all([...children.entries()].map(([port, child]) => stopChild(port, child, false)));
    },
  };
}
