/**
 * The health loop against real linkfort instances (compiled binary, real PostgreSQL): kill -9,
 * SIGSTOP, a crash loop, the one-restart-at-a-time rule and the memory limit. Timings are
 * printed, because the issue asks how long detection and restart took.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { INSTANCE_RUNTIME_ENV } from "../../service/src/lib/runtime-env.ts";
import { alertKeys } from "../src/watch/transitions.ts";
import { startFleet, type Fleet } from "./fleet.ts";
import { waitFor } from "../../service/test/wait.ts";
import { alive, isReady, processState } from "./processes.ts";
import type { AlertCall } from "./recording-alerter.ts";

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
}, 30_000);

/** Waits until `port` runs a process other than `oldPid` and that process answers /ready. */
async function replaced(f: Fleet, port: number, oldPid: number, timeoutMs = 10_000): Promise<number> {
  return waitFor(`instance ${port} replaced and ready`, async () => {
    const pid = await f.runner.pid(port);
    return pid !== null && pid !== oldPid && (await isReady(port)) ? pid : undefined;
  }, timeoutMs);
}

describe("watcher", () => {
  test("an instance killed with SIGKILL is back and ready within a few seconds, with exactly one restart alert", async () => {
    fleet = await startFleet({ count: 2 });
    await fleet.waitAllReady();
    fleet.watch();
    const [port, other] = fleet.ports as [number, number];
    await waitFor("watcher saw both ready", () => fleet!.watcher.isHealthy(port) && fleet!.watcher.isHealthy(other));
    const oldPid = await fleet.pid(port);

    const t0 = performance.now();
    process.kill(oldPid, "SIGKILL");
    const newPid = await replaced(fleet, port, oldPid, 5_000);
    const ms = performance.now() - t0;
    console.log(`[timing] kill -9 → new instance ready: ${ms.toFixed(0)} ms`);
    // The replacement runs with the instance runtime environment too (the GC's RAM hint), and an
    // operator's own value wins: the fleet sets none, so it is the default.
    const environ = (await Bun.file(`/proc/${newPid}/environ`).text()).split("\0");
    expect(environ).toContain(`BUN_JSC_forceRAMSize=${INSTANCE_RUNTIME_ENV.BUN_JSC_forceRAMSize}`);

    expect(newPid).not.toBe(oldPid);
    expect(ms).toBeLessThan(5_000);
    await waitFor("down resolved", () => fleet!.alerts.resolved(alertKeys.down(port)).length === 1);
    await Bun.sleep(500); // a fixed window on purpose: it proves that no late duplicate alert comes
    expect(fleet.alerts.raised(alertKeys.restarted(port)).map((c) => c.severity)).toEqual(["info"]);
    expect(fleet.alerts.raised(alertKeys.restarted(other))).toEqual([]);
    expect(fleet.alerts.raised(alertKeys.allDown)).toEqual([]);
    const snapshot = fleet.watcher.snapshot().find((s) => s.port === port);
    expect(snapshot).toMatchObject({ port, state: "ready", pid: newPid, restarts: 1, consecutive_failures: 0 });
  }, 30_000);

  test("an instance stopped with SIGSTOP is detected as hung, killed and replaced", async () => {
    fleet = await startFleet({ count: 2 });
    await fleet.waitAllReady();
    fleet.watch();
    const [port] = fleet.ports as [number];
    await waitFor("watcher saw it ready", () => fleet!.watcher.isHealthy(port));
    const oldPid = await fleet.pid(port);

    const t0 = performance.now();
    process.kill(oldPid, "SIGSTOP");
    await waitFor("restart decided", () => fleet!.alerts.raised(alertKeys.restarted(port)).length > 0, 5_000);
    const detected = performance.now() - t0;
    const newPid = await replaced(fleet, port, oldPid);
    const ms = performance.now() - t0;
    console.log(`[timing] SIGSTOP → detected hung: ${detected.toFixed(0)} ms; → replacement ready: ${ms.toFixed(0)} ms`);

    expect(newPid).not.toBe(oldPid);
    await waitFor("the stopped process is gone", () => !alive(oldPid), 2_000);
    const [down] = fleet.alerts.raised(alertKeys.down(port));
    expect(down?.detail).toContain("no answer within");
    expect(fleet.alerts.raised(alertKeys.restarted(port))).toHaveLength(1);
    expect(await fleet.metrics.registry.getSingleMetricAsString("linkfort_supervisor_instance_restarts_total")).toContain(`port="${port}",reason="unhealthy"} 1`);
  }, 30_000);

  test("an instance that exits at once is respawned with exponential backoff and raises one flapping alert", async () => {
    let badPort = 0;
    // A DATABASE_URL the service refuses: it exits with code 2 right after starting.
    fleet = await startFleet({ count: 2, extraEnv: (port): Record<string, string> => (port === badPort ? { DATABASE_URL: "mysql://nope" } : {}), start: false });
    const [good, bad] = fleet.ports as [number, number];
    badPort = bad;
    for (const port of fleet.ports) await fleet.runner.start(port);
    fleet.watch();

    const restarts = () => fleet!.alerts.raised(alertKeys.restarted(bad));
    await waitFor("six restarts of the crashing instance", () => restarts().length >= 6, 15_000);
    const times = restarts().map((c) => c.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    console.log(`[timing] crash loop: gaps between restarts ${gaps.map((g) => `${g} ms`).join(", ")}`);
    // Delays are 0, 100, 200, 400, 800 ms (base 100 ms, doubling): each gap is at least its delay.
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(i === 0 ? 0 : 100 * 2 ** (i - 1) - 5));
    expect(gaps[4]!).toBeGreaterThan(gaps[1]!);

    expect(fleet.alerts.raised(alertKeys.flapping(bad)).map((c) => c.severity)).toEqual(["critical"]);
    // Crashes restarted at once say "restarted" (and "flapping"), never a separate "down".
    expect(fleet.alerts.raised(alertKeys.down(bad))).toHaveLength(0);
    expect(fleet.alerts.raised(alertKeys.restarted(good))).toEqual([]);
    expect(fleet.alerts.raised(alertKeys.allDown)).toEqual([]);
    expect(fleet.watcher.snapshot().find((s) => s.port === bad)?.last_error).toMatch(/exited with code 2/);
  }, 30_000);

  test("two hung instances are restarted one after the other; with all hung, all at once", async () => {
    fleet = await startFleet({ count: 3 });
    await fleet.waitAllReady();
    fleet.watch();
    const [a, b, c] = fleet.ports as [number, number, number];
    await waitFor("watcher saw all ready", () => fleet!.ports.every((p) => fleet!.watcher.isHealthy(p)));

    const pidsBefore = await Promise.all([a, b].map((p) => fleet!.pid(p)));
    for (const pid of pidsBefore) process.kill(pid, "SIGSTOP");
    await Promise.all([a, b].map((p, i) => replaced(fleet!, p, pidsBefore[i]!, 15_000)));
    const [first, second] = [a, b].map((p) => ({ port: p, at: fleet!.alerts.raised(alertKeys.restarted(p))[0]!.at })).sort((x, y) => x.at - y.at) as [{ port: number; at: number }, { port: number; at: number }];
    const firstReady = fleet.alerts.resolved(alertKeys.down(first.port))[0]!.at;
    // The second restart waited until the first instance was ready again.
    expect(second.at).toBeGreaterThanOrEqual(firstReady);
    expect(fleet.alerts.raised(alertKeys.allDown)).toEqual([]);
    expect(fleet.alerts.raised(alertKeys.restarted(c))).toEqual([]);

    await waitFor("watcher saw all ready again", () => fleet!.ports.every((p) => fleet!.watcher.isHealthy(p)), 5_000);
    const pidsAll = await Promise.all(fleet.ports.map((p) => fleet!.pid(p)));
    for (const pid of pidsAll) process.kill(pid, "SIGSTOP");
    await Promise.all(fleet.ports.map((p, i) => replaced(fleet!, p, pidsAll[i]!, 15_000)));
    const lastRestarts = fleet.ports.map((p) => fleet!.alerts.raised(alertKeys.restarted(p)).at(-1)!.at);
    // None healthy: nothing to protect, so the three restarts came in the same round.
    expect(Math.max(...lastRestarts) - Math.min(...lastRestarts)).toBeLessThan(300);
    expect(fleet.alerts.raised(alertKeys.allDown).map((x) => x.severity)).toEqual(["critical"]);
    await waitFor("all-down resolved", () => fleet!.alerts.resolved(alertKeys.allDown).length === 1, 5_000);
    for (const pid of [...pidsBefore, ...pidsAll]) expect(processState(pid)).toBeNull();
  }, 60_000);

  test("instances over the memory limit are replaced gracefully, one at a time", async () => {
    // 1 MB: every instance is over it, so the watcher keeps replacing them, one after the other.
    fleet = await startFleet({ count: 2, config: { memoryLimitMb: 1 } });
    await fleet.waitAllReady();
    const pids = await Promise.all(fleet.ports.map((p) => fleet!.pid(p)));
    fleet.watch();
    await waitFor("both replaced once", () => fleet!.ports.every((p) => fleet!.alerts.raised(alertKeys.restarted(p)).length >= 1), 15_000);
    const [first, second] = fleet.ports.map((p) => fleet!.alerts.raised(alertKeys.restarted(p))[0]!).sort((x, y) => x.at - y.at) as [AlertCall, AlertCall];
    const firstPort = Number(first.key.split(":")[1]);
    const firstPid = pids[fleet.ports.indexOf(firstPort)]!;
    expect(first.detail).toContain("passed the limit");
    // The first replacement had drained, exited and been replaced by a ready instance before the second began.
    expect(alive(firstPid)).toBe(false);
    expect(second.at - first.at).toBeGreaterThan(0);
    // Every replacement began while the other instance was healthy: never two out at once.
    expect(fleet.restartLog.length).toBeGreaterThanOrEqual(2);
    for (const record of fleet.restartLog) expect(record.othersHealthy).toEqual([true]);
    const snapshot = fleet.watcher.snapshot();
    expect(snapshot.every((s) => (s.rss_bytes ?? 0) > 1024 * 1024)).toBe(true);
  }, 30_000);
});
