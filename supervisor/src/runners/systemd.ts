/**
 * @module The systemd runner: instances are `linkfort@PORT` units (systemd/linkfort@.service)
 * and every action is one systemctl call. systemd restarts a crashed unit by itself
 * (Restart=always), so this runner reports no exits; status() reports the crashes systemd
 * already restarted instead (NRestarts, systemd-crashes.ts), so each one still alerts. The
 * watcher still restarts units that fail their probes. When the supervisor stops or dies, the
 * units keep running: they belong to systemd, and the site must not go down with its watchdog.
 */
import type { Logger } from "../../../service/src/lib/logger.ts";
import type { InstanceInfo, RestartOptions, Runner } from "./runner.ts";
import { createCrashTracker } from "./systemd-crashes.ts";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs argv and returns its exit code and output; injectable so tests can check the argv. */
export type CommandRunner = (argv: string[]) => Promise<CommandResult>;

export interface SystemdRunnerOptions {
  /** SYSTEMD_UNIT: template prefix; the port follows (default "linkfort@"). */
  unitPrefix: string;
  logger: Logger;
  /** Default: spawn the command and collect its output. */
  exec?: CommandRunner;
  /** Path or name of systemctl (default "systemctl"). */
  systemctl?: string;
}

export const spawnCommand: CommandRunner = async (argv) => {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
};

/** What status() reads, in one `systemctl show`; the last five are for systemd-crashes.ts. */
const STATUS_PROPERTIES = ["ActiveState", "MainPID", "ActiveEnterTimestamp", "NRestarts", "SubState", "Result", "ExecMainCode", "ExecMainStatus"];

/** `systemctl show` prints Key=Value lines. */
function parseShow(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return out;
}

export function createSystemdRunner(opts: SystemdRunnerOptions): Runner {
  const exec = opts.exec ?? spawnCommand;
  const systemctl = opts.systemctl ?? "systemctl";
  const unit = (port: number) => `${opts.unitPrefix}${port}`;

  /** A failed systemctl action throws with its stderr: the caller logs it and the next round retries. */
  const run = async (...args: string[]) => {
    const result = await exec([systemctl, ...args]);
    if (result.code !== 0) throw new Error(`${systemctl} ${args.join(" ")} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
    return result.stdout;
  };

  const observeCrashes = createCrashTracker(unit);

  const status = async (port: number): Promise<InstanceInfo> => {
    // --timestamp=unix (systemd ≥ 248) prints "@<seconds>", which needs no date parsing.
    const out = parseShow(await run("show", "--timestamp=unix", ...STATUS_PROPERTIES.flatMap((p) => ["-p", p]), unit(port)));
    // "activating" includes systemd's own auto-restart of a crashed unit: it is on its way back.
    const active = ["active", "activating", "reloading"].includes(out.get("ActiveState") ?? "");
    const pid = Number(out.get("MainPID") ?? 0);
    const since = /^@(\d+)/.exec(out.get("ActiveEnterTimestamp") ?? "");
    const handledCrashes = observeCrashes(port, out);
    return {
      port, active, pid: active && pid > 0 ? pid : null, startedAt: active && since ? Number(since[1]) * 1000 : null,
      ...(handledCrashes ? { handledCrashes } : {}),
    };
  };

  return {
    kind: "systemd",
    // --no-block: only queue the start. The units are Type=notify, so a blocking start waits for
    // READY=1 and fails when the unit does; one broken instance then failed the whole daemon's
    // start (seen on real systemd). The watcher's probes and start grace judge the new process.
    async start(port) { await run("start", "--no-block", unit(port)); },
    async stop(port) { await run("stop", unit(port)); },
    // Blocking on purpose: with Type=notify it returns once the new process sent READY=1 (or
    // failed), so a rolling restart never probes the old process and takes it for the new one.
    async restart(port, restartOpts: RestartOptions = {}) {
      if (restartOpts.force) {
        // Nothing to drain (see RestartOptions.force); without this, a hung unit would hold
        // the restart for the unit's whole TimeoutStopSec.
        await run("kill", "--signal=SIGKILL", unit(port));
      }
      await run("restart", unit(port));
      opts.logger.info("unit restarted", { unit: unit(port), force: restartOpts.force ?? false });
    },
    async isActive(port) {
      // is-active exits non-zero for every state but "active"; that is an answer, not an error.
      const result = await exec([systemctl, "is-active", unit(port)]);
      return result.code === 0 && result.stdout.trim() === "active";
    },
    async pid(port) {
      const pid = Number((await run("show", "-P", "MainPID", unit(port))).trim());
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    },
    status,
    onUnexpectedExit: () => () => {},
    close: async () => {},
  };
}
