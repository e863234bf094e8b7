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
    expect(calls[0]).toEqual([
      "systemctl", "show", "--timestamp=unix", "-p", "ActiveState", "-p", "MainPID", "-p", "ActiveEnterTimestamp",
      "-p", "NRestarts", "-p", "SubState", "-p", "Result", "-p", "ExecMainCode", "-p", "ExecMainStatus", "linkfort@8081",
    ]);
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

/** A unit as `systemctl show` prints it; the fields systemd-crashes.ts reads are set per test. */
function unitShow(fields: { nRestarts: number; subState?: string; result?: string; code?: number; status?: number; pid?: number }): string {
  const { nRestarts, subState = "running", result = "success", code = 0, status = 0, pid = 4242 } = fields;
  const active = subState === "auto-restart" ? "activating" : "active";
  return `ActiveState=${active}\nMainPID=${subState === "auto-restart" ? 0 : pid}\nActiveEnterTimestamp=@1715680800\nNRestarts=${nRestarts}\n`
    + `SubState=${subState}\nResult=${result}\nExecMainCode=${code}\nExecMainStatus=${status}\n`;
}

/** A runner whose unit linkfort@8081 reads as `unit.show` says at each status() call. */
function unitRecorder(initial: string) {
  const unit = { show: initial };
  const { calls, runner } = recorder((argv) => (argv[1] === "show" ? { stdout: unit.show } : {}));
  return { unit, calls, runner };
}

describe("systemd runner: crashes systemd restarted by itself (NRestarts)", () => {
  test("the first reading is a baseline, however high the counter: no crash", async () => {
    const { runner } = unitRecorder(unitShow({ nRestarts: 7 }));
    expect((await runner.status(8081)).handledCrashes).toBeUndefined();
  });

  test("no report while the counter stays where it was", async () => {
    const { runner } = unitRecorder(unitShow({ nRestarts: 2 }));
    await runner.status(8081);
    expect((await runner.status(8081)).handledCrashes).toBeUndefined();
    expect((await runner.status(8081)).handledCrashes).toBeUndefined();
  });

  test("one increase is reported once, with how the process ended when a reading caught systemd waiting to restart it", async () => {
    const { unit, runner } = unitRecorder(unitShow({ nRestarts: 0 }));
    await runner.status(8081);
    // kill -9: for RestartSec the unit is in auto-restart and systemd still shows the exit.
    unit.show = unitShow({ nRestarts: 0, subState: "auto-restart", result: "signal", code: 2, status: 9 });
    const waiting = await runner.status(8081);
    expect(waiting.handledCrashes).toBeUndefined();
    expect(waiting.active).toBe(true);
    unit.show = unitShow({ nRestarts: 1, pid: 4343 });
    expect(await runner.status(8081)).toEqual({
      port: 8081, active: true, pid: 4343, startedAt: 1715680800_000,
      handledCrashes: { count: 1, detail: "killed by SIGKILL; systemd restarted it" },
    });
    expect((await runner.status(8081)).handledCrashes).toBeUndefined();
  });

  test("an increase no reading saw coming still reports, pointing at the journal; each port has its own counter", async () => {
    const { unit, runner } = unitRecorder(unitShow({ nRestarts: 3 }));
    await runner.status(8081);
    await runner.status(8082);
    unit.show = unitShow({ nRestarts: 5 });
    expect((await runner.status(8081)).handledCrashes).toEqual({ count: 2, detail: "systemd restarted it 2 times; how it ended: journalctl -u linkfort@8081" });
    expect((await runner.status(8082)).handledCrashes).toEqual({ count: 2, detail: "systemd restarted it 2 times; how it ended: journalctl -u linkfort@8082" });
    expect((await runner.status(8081)).handledCrashes).toBeUndefined();
  });

  test("an OOM kill and a watchdog abort say so", async () => {
    const { unit, runner } = unitRecorder(unitShow({ nRestarts: 0 }));
    await runner.status(8081);
    unit.show = unitShow({ nRestarts: 0, subState: "auto-restart", result: "oom-kill", code: 2, status: 9 });
    await runner.status(8081);
    unit.show = unitShow({ nRestarts: 1 });
    expect((await runner.status(8081)).handledCrashes?.detail).toBe("killed by SIGKILL: out of memory; systemd restarted it");
    unit.show = unitShow({ nRestarts: 1, subState: "auto-restart", result: "watchdog", code: 3, status: 6 });
    await runner.status(8081);
    unit.show = unitShow({ nRestarts: 2 });
    expect((await runner.status(8081)).handledCrashes?.detail).toBe("killed by SIGABRT (core dumped): watchdog timeout; systemd restarted it");
  });

  test("a restart the supervisor asked for is no crash: systemd sets the counter back to 0, and crashes after it count from there", async () => {
    const { unit, calls, runner } = unitRecorder(unitShow({ nRestarts: 4 }));
    await runner.status(8081);
    await runner.restart(8081, { force: true });
    expect(calls.slice(1)).toEqual([["systemctl", "kill", "--signal=SIGKILL", "linkfort@8081"], ["systemctl", "restart", "linkfort@8081"]]);
    // What systemd does on a requested restart (service.c: flush_n_restarts): back to 0.
    unit.show = unitShow({ nRestarts: 0, pid: 5000 });
    expect((await runner.status(8081)).handledCrashes).toBeUndefined();
    unit.show = unitShow({ nRestarts: 0, pid: 5000 });
    expect((await runner.status(8081)).handledCrashes).toBeUndefined();
    // A crash right after it, before any reading saw the 0, is still one crash (not 4 - 1).
    await runner.restart(8081);
    unit.show = unitShow({ nRestarts: 1, pid: 5001 });
    expect((await runner.status(8081)).handledCrashes?.count).toBe(1);
  });

  test("a crash of a unit that then failed for good is reported, and `active: false` still tells the watcher to start it", async () => {
    const { unit, runner } = unitRecorder(unitShow({ nRestarts: 9 }));
    await runner.status(8081);
    unit.show = unitShow({ nRestarts: 10 }).replace("ActiveState=active", "ActiveState=failed").replace("SubState=running", "SubState=failed");
    const info = await runner.status(8081);
    expect(info).toMatchObject({ active: false, pid: null, handledCrashes: { count: 1 } });
  });

  test("a systemd without NRestarts (before 235) reports no crashes", async () => {
    const { unit, runner } = unitRecorder("ActiveState=active\nMainPID=4242\nActiveEnterTimestamp=@1715680800\n");
    await runner.status(8081);
    unit.show = "ActiveState=active\nMainPID=4343\nActiveEnterTimestamp=@1715680900\n";
    expect((await runner.status(8081)).handledCrashes).toBeUndefined();
  });
});
