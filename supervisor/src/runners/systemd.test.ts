/**
 * The systemd runner is only the systemctl commands it builds; these tests check that argv with
 * an injected command runner. Whether systemd does the right thing with them is tested on a
 * real systemd in a later issue (deploy/), not pretended here.
 */
import { describe, expect, test } from "bun:test";
import { silentLogger } from "../../../service/src/lib/logger.ts";
import { createSystemdRunner, type CommandResult } from "./systemd.ts";

function recorder(answer: (argv: string[]) => Partial<CommandResult> = () => ({})) {
  const calls: string[][] = [];
  const runner = createSystemdRunner({
    unitPrefix: "linkfort@", logger: silentLogger,
    exec: async (argv) => { calls.push(argv); return { code: 0, stdout: "", stderr: "", ...answer(argv) }; },
  });
  return { calls, runner };
}

describe("systemd runner", () => {
  test("start, stop and restart are one systemctl call on linkfort@PORT; start only queues the job", async () => {
    const { calls, runner } = recorder();
    await runner.start(8081);
    await runner.stop(8082);
    await runner.restart(8083);
    // Regression (real systemd, Type=notify units): a blocking start of one failing unit made the whole daemon fail to start.
    expect(calls).toEqual([["systemctl", "start", "--no-block", "linkfort@8081"], ["systemctl", "stop", "linkfort@8082"], ["systemctl", "restart", "linkfort@8083"]]);
  });

  test("a forced restart SIGKILLs the unit first, then restarts it", async () => {
    const { calls, runner } = recorder();
    await runner.restart(8081, { force: true });
    expect(calls).toEqual([["systemctl", "kill", "--signal=SIGKILL", "linkfort@8081"], ["systemctl", "restart", "linkfort@8081"]]);
  });

  test("is-active answers true only for exit 0 and \"active\"", async () => {
    const { calls, runner } = recorder((argv) => (argv[2] === "linkfort@8081" ? { stdout: "active\n" } : { code: 3, stdout: "inactive\n" }));
    expect(await runner.isActive(8081)).toBe(true);
    expect(await runner.isActive(8082)).toBe(false);
    expect(calls).toEqual([["systemctl", "is-active", "linkfort@8081"], ["systemctl", "is-active", "linkfort@8082"]]);
  });

  test("pid reads MainPID; 0 means no process", async () => {
    const { calls, runner } = recorder((argv) => ({ stdout: argv[4] === "linkfort@8081" ? "4242\n" : "0\n" }));
    expect(await runner.pid(8081)).toBe(4242);
    expect(await runner.pid(8082)).toBeNull();
    expect(calls[0]).toEqual(["systemctl", "show", "-P", "MainPID", "linkfort@8081"]);
  });

  test("status reads ActiveState, MainPID and the start time as a Unix timestamp", async () => {
    const { calls, runner } = recorder(() => ({ stdout: "MainPID=4242\nActiveState=active\nActiveEnterTimestamp=@1715680800\n" }));
    expect(await runner.status(8081)).toEqual({ port: 8081, active: true, pid: 4242, startedAt: 1715680800_000 });
    expect(calls[0]).toEqual(["systemctl", "show", "--timestamp=unix", "-p", "ActiveState", "-p", "MainPID", "-p", "ActiveEnterTimestamp", "linkfort@8081"]);
  });

  test("a unit systemd is auto-restarting counts as active; a failed one does not", async () => {
    let state = "activating";
    const { runner } = recorder(() => ({ stdout: `MainPID=0\nActiveState=${state}\nActiveEnterTimestamp=\n` }));
    expect(await runner.status(8081)).toEqual({ port: 8081, active: true, pid: null, startedAt: null });
    state = "failed";
    expect(await runner.status(8081)).toEqual({ port: 8081, active: false, pid: null, startedAt: null });
  });

  test("a failing systemctl call throws with its stderr", async () => {
    const { runner } = recorder(() => ({ code: 5, stderr: "Unit linkfort@9.service not found.\n" }));
    await expect(runner.start(9)).rejects.toThrow("systemctl start --no-block linkfort@9 failed (exit 5): Unit linkfort@9.service not found.");
  });

  test("closing the supervisor leaves the units running and reports no exits", async () => {
    const { calls, runner } = recorder();
    const unsubscribe = runner.onUnexpectedExit(() => { throw new Error("never"); });
    await runner.close();
    unsubscribe();
    expect(calls).toEqual([]);
  });
});
