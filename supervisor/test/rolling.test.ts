/**
 * When a rolling restart must stop: an instance that does not come back, and an instance that
 * is the only one serving. Real instances; the watcher is driven with runOnce() (no timers), so
 * what it knows is exactly what the test made it see. Zero-loss under load is in
 * through-caddy.test.ts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createRollingRestart } from "../src/rolling/rolling-restart.ts";
import { probeReady } from "../src/watch/probe.ts";
import { startFleet, testLogger, type Fleet } from "./fleet.ts";

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
}, 30_000);

const rollingFor = (f: Fleet, readyTimeoutMs: number) => createRollingRestart({
  ports: f.ports, runner: f.runner, watcher: f.watcher, logger: testLogger,
  probe: (port) => probeReady(`http://127.0.0.1:${port}/ready`, 250), readyTimeoutMs, pollMs: 50, settleMs: 0,
});

describe("rolling restart", () => {
  test("stops at the first instance that is not ready in time and leaves the rest untouched", async () => {
    let broken = false;
    fleet = await startFleet({ count: 3, extraEnv: (port): Record<string, string> => (broken && port === fleet?.ports[1] ? { DATABASE_URL: "mysql://nope" } : {}) });
    await fleet.waitAllReady();
    await fleet.watcher.runOnce();
    const [a, b, c] = fleet.ports as [number, number, number];
    const before = await Promise.all(fleet.ports.map((p) => fleet!.pid(p)));
    broken = true; // the next start of the second instance exits at once: a bad deploy

    const result = await rollingFor(fleet, 1_500)();

    expect(result.ok).toBe(false);
    expect(result.detail).toBe(`instance ${b} failed: not ready within 1500 ms; stopped there, 1 not restarted`);
    expect(result.instances.map((i) => [i.port, i.ok])).toEqual([[a, true], [b, false]]);
    expect(await fleet.pid(a)).not.toBe(before[0]!);
    expect(await fleet.pid(c)).toBe(before[2]!);
    // Handed back to the watcher, which owns the broken instance again.
    expect(fleet.watcher.snapshot().find((s) => s.port === b)?.state).not.toBe("ready");
  }, 30_000);

  test("refuses to take out an instance while no other one is ready", async () => {
    fleet = await startFleet({ count: 2 });
    await fleet.waitAllReady();
    await fleet.watcher.runOnce();
    const [a, b] = fleet.ports as [number, number];
    const pids = await Promise.all(fleet.ports.map((p) => fleet!.pid(p)));
    process.kill(pids[1]!, "SIGSTOP");
    try {
      for (let i = 0; i < 3; i++) await fleet.watcher.runOnce(); // three failed probes: b is down
      expect(fleet.watcher.isHealthy(b)).toBe(false);
      // The watcher is replacing b; the replacement is still starting, so b is not ready either way.
      await fleet.watcher.idle();

      const result = await rollingFor(fleet, 5_000)();

      expect(result.ok).toBe(false);
      expect(result.detail).toContain(`stopped before ${a}: no other instance is ready`);
      expect(await fleet.pid(a)).toBe(pids[0]!);
    } finally {
      try { process.kill(pids[1]!, "SIGCONT"); } catch { /* already replaced (killed) by the watcher */ }
    }
  }, 30_000);
});
