import { describe, expect, test } from "bun:test";
import { InstanceState, type StatePolicy } from "./instance-state.ts";
import type { ProbeResult } from "./probe.ts";

const policy: StatePolicy = { failThreshold: 3, startGraceMs: 1_000, backoffBaseMs: 100, backoffMaxMs: 1_000, flapRestarts: 3, flapWindowMs: 10_000 };
const pass: ProbeResult = { ok: true, status: 200, ms: 1, error: null };
const fail: ProbeResult = { ok: false, status: null, ms: 250, error: "no answer within 250 ms (hung?)" };

describe("InstanceState", () => {
  test("failures inside the start grace do not count; after it, the third failure in a row flips it down once", () => {
    const s = new InstanceState(8081, policy, 0);
    expect(s.probed(fail, 500)).toEqual([]);
    expect(s.consecutiveFailures).toBe(0);
    expect(s.probed(fail, 1_100)).toEqual([]);
    expect(s.probed(fail, 1_200)).toEqual([]);
    expect(s.probed(fail, 1_300)).toEqual([{ condition: "down", now: true }]);
    expect(s.probed(fail, 1_400)).toEqual([]);
    expect(s.phase).toBe("unhealthy");
    expect(s.probed(pass, 1_500)).toEqual([{ condition: "down", now: false }]);
    expect(s.snapshot(1_500)).toMatchObject({ state: "ready", consecutive_failures: 0, last_error: fail.error });
  });

  test("a pass ends the grace: the next failures count at once", () => {
    const s = new InstanceState(8081, policy, 0);
    s.probed(pass, 100);
    for (const t of [200, 300]) expect(s.probed(fail, t)).toEqual([]);
    expect(s.probed(fail, 400)).toEqual([{ condition: "down", now: true }]);
  });

  test("an exit is down at once; unplanned restarts back off 0, 100, 200, 400 ms and flap on the third", () => {
    const s = new InstanceState(8081, policy, 0);
    s.probed(pass, 10);
    expect(s.exited("exited with code 2")).toEqual([{ condition: "down", now: true }]);
    const delays: number[] = [];
    const flips = [];
    for (const t of [100, 200, 300, 400]) {
      delays.push(s.restartDelay(t));
      flips.push(s.restarting("crashed", t));
    }
    expect(delays).toEqual([0, 100, 200, 400]);
    expect(flips).toEqual([[], [], [{ condition: "flapping", now: true }], []]);
    expect(s.restartDelay(500)).toBe(800);
    expect(s.restartDelay(600)).toBe(800);
    s.restarting("crashed", 600);
    expect(s.restartDelay(700)).toBe(1_000); // capped at backoffMaxMs
  });

  test("flapping clears only when the instance is ready and its restarts have left the window", () => {
    const s = new InstanceState(8081, policy, 0);
    for (const t of [0, 1, 2]) s.restarting("unhealthy", t);
    expect(s.flapping).toBe(true);
    expect(s.probed(pass, 5_000)).toEqual([]);
    s.exited("killed by SIGKILL");
    expect(s.probed(pass, 10_500)).toEqual([{ condition: "down", now: false }, { condition: "flapping", now: false }]);
    expect(s.restartDelay(10_500)).toBe(0);
  });

  test("planned restarts (memory, rolling) neither back off nor flap", () => {
    const s = new InstanceState(8081, policy, 0);
    for (const t of [0, 1, 2, 3]) expect(s.restarting(t % 2 ? "memory" : "rolling", t)).toEqual([]);
    expect(s.restartDelay(4)).toBe(0);
    expect(s.restarts).toBe(4);
  });
});
