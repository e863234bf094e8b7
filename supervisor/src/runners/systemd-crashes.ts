/**
 * @module Crashes systemd already handled, read from a unit's NRestarts. systemd counts only its
 * own automatic restarts: service_enter_restart() (src/core/service.c) increments n_restarts
 * when Restart= schedules one. A start that follows a stop it was asked for (`systemctl
 * restart`, stop + start) sets it back to 0 (flush_n_restarts, "If we shan't restart, then
 * flush out the restart counter"), and so does `systemctl reset-failed`. So a counter that grew
 * since the last reading grew by that many crashes; one that fell was reset, and what it reads
 * now is the crashes since. The supervisor's own restarts never count.
 */
import { constants } from "node:os";
import type { HandledCrashes } from "./runner.ts";

/** Number → name; the first name wins, so 6 is SIGABRT rather than its alias SIGIOT. */
const signalNames = new Map<number, string>();
for (const [name, number] of Object.entries(constants.signals)) if (!signalNames.has(number)) signalNames.set(number, name);

/**
 * How the main process ended. Only readable while the unit waits RestartSec to restart: the
 * restart's service_start() resets ExecMainCode/ExecMainStatus and Result.
 */
function describeExit(show: Map<string, string>): string {
  const status = Number(show.get("ExecMainStatus"));
  const signal = signalNames.get(status) ?? `signal ${status}`;
  // ExecMainCode is waitid()'s si_code: CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3.
  const how = { 1: `exited with code ${status}`, 2: `killed by ${signal}`, 3: `killed by ${signal} (core dumped)` }[Number(show.get("ExecMainCode"))]
    ?? `ended (${show.get("Result") ?? "unknown"})`;
  const result = show.get("Result");
  if (result === "oom-kill") return `${how}: out of memory`;
  if (result === "watchdog") return `${how}: watchdog timeout`;
  return how;
}

/** One tracker per runner: it remembers each port's last NRestarts (the first reading is a baseline). */
export function createCrashTracker(unitName: (port: number) => string) {
  const counts = new Map<number, number>();
  /** How the last crash ended, when a reading caught the unit waiting to restart. */
  const exits = new Map<number, string>();

  /** `show`: the unit's `systemctl show` properties NRestarts, SubState, Result, ExecMainCode, ExecMainStatus. */
  return function observe(port: number, show: Map<string, string>): HandledCrashes | undefined {
    const count = Number(show.get("NRestarts") ?? Number.NaN);
    if (!Number.isInteger(count)) return undefined; // systemd before 235 has no NRestarts
    const previous = counts.get(port);
    counts.set(port, count);
    const lastExit = exits.get(port);
    exits.delete(port);
    if (show.get("SubState") === "auto-restart") exits.set(port, describeExit(show));
    if (previous === undefined) return undefined;
    const crashes = count >= previous ? count - previous : count;
    if (crashes === 0) return undefined;
    const restarted = `systemd restarted it${crashes > 1 ? ` ${crashes} times` : ""}`;
    const detail = lastExit ? `${lastExit}; ${restarted}` : `${restarted}; how it ended: journalctl -u ${unitName(port)}`;
    return { count: crashes, detail };
  };
}
