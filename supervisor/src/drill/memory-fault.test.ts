/**
 * The instance-memory drill's own logic: the limit it sets, the unit values it sets back, where it
 * applies, and its verdict (instance-kill's). The OOM kill itself runs on the VM bed
 * (bun deploy/test/vm-drill.ts --fault instance-memory): it needs systemd as PID 1 and root.
 */
import { describe, expect, test } from "bun:test";
import { findFault } from "./faults.ts";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isInstanceUnit, kernelLimitFile, loweredLimitBytes, parseShow, restoreAssignments, runtimeDropIn } from "./memory-fault.ts";
import type { DrillRow, PhaseStats } from "./report.ts";

describe("instance-memory drill", () => {
  test("the lowered limit is half the resident memory, whole pages, and refuses a size it cannot go under", () => {
    expect(loweredLimitBytes(100 * 1024 * 1024)).toBe(50 * 1024 * 1024);
    expect(loweredLimitBytes(3 * 4096 + 1)).toBe(4096);
    expect(loweredLimitBytes(123_456_789) % 4096).toBe(0);
    expect(loweredLimitBytes(123_456_789)).toBeLessThan(123_456_789 / 2);
    expect(() => loweredLimitBytes(4096)).toThrow("too small to go under");
    expect(() => loweredLimitBytes(Number.NaN)).toThrow("too small to go under");
  });

  test("the unit's own values are read from systemctl show and set back as they were", () => {
    const before = parseShow("MemoryMax=805306368\nMemorySwapMax=infinity\n");
    expect(restoreAssignments(before)).toEqual(["MemoryMax=805306368", "MemorySwapMax=infinity"]);
    expect(() => restoreAssignments(parseShow("MemoryMax=805306368\n"))).toThrow("systemctl show gave no MemorySwapMax");
    expect(parseShow("Result=oom-kill\nExecStart={ path=/x ; argv[]=/x a=b }").get("ExecStart")).toBe("{ path=/x ; argv[]=/x a=b }");
  });

  test("only an instance's own unit is touched, and only its runtime drop-ins are removed", () => {
    expect(isInstanceUnit("linkfort@8082.service")).toBe(true);
    for (const other of ["linkfort-supervisor.service", "caddy.service", "linkfort@.service", "user@0.service", null]) expect(isInstanceUnit(other)).toBe(false);
    expect(runtimeDropIn("linkfort@8082.service", "MemoryMax")).toBe("/run/systemd/system.control/linkfort@8082.service.d/50-MemoryMax.conf");
  });

  test("the kernel's limit is drilled only where the kernel holds the unit's MemoryMax (else the supervisor's limit is)", () => {
    const root = mkdtempSync(join(tmpdir(), "cgroup-"));
    try {
      const cg = "/system.slice/system-linkfort.slice/linkfort@8082.service";
      // No memory controller for the unit (a container on a cgroup v1 host): nothing to lower.
      expect(kernelLimitFile(cg, "805306368", root)).toBeNull();
      mkdirSync(join(root, cg), { recursive: true });
      writeFileSync(join(root, cg, "memory.max"), "805306368\n");
      expect(kernelLimitFile(cg, "805306368", root)).toBe(join(root, cg, "memory.max"));
      // A file the unit's value never reached (systemd could not write it) does not count.
      expect(kernelLimitFile(cg, "536870912", root)).toBeNull();
      writeFileSync(join(root, cg, "memory.max"), "max\n");
      expect(kernelLimitFile(cg, "infinity", root)).toBe(join(root, cg, "memory.max"));
      // cgroup v1: the memory hierarchy's limit_in_bytes.
      rmSync(join(root, cg, "memory.max"));
      mkdirSync(join(root, "memory", cg), { recursive: true });
      writeFileSync(join(root, "memory", cg, "memory.limit_in_bytes"), "805306368\n");
      expect(kernelLimitFile(cg, "805306368", root)).toBe(join(root, "memory", cg, "memory.limit_in_bytes"));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("it is judged like instance-kill: a failed request or a lost click breaks it", () => {
    const fault = findFault("instance-memory")!;
    expect(fault.promise).toBe(findFault("instance-kill")!.promise);
    const phase = (failed: number): PhaseStats => ({ ...({} as PhaseStats), requests: 100, ok: 100 - failed, conn: failed, http_5xx: 0, http_4xx: 0, redirect_failures: 0, p50_ms: 1, p99_ms: 2 });
    const row = (failed: number, clicksLost: number): DrillRow => ({
      fault: "instance-memory", promise: fault.promise, met: null, why: [],
      phases: { before: phase(0), during: phase(failed), after: phase(0) },
      data: { drained: true, creates_answered: 5, creates_missing: 0, redirects_answered: 90, clicks_recorded: 90 - clicksLost, clicks_lost: clicksLost } as DrillRow["data"] & object,
    });
    expect(fault.judge(row(0, 0))).toEqual([]);
    expect(fault.judge(row(0, 0))).toEqual(findFault("instance-kill")!.judge(row(0, 0)));
    expect(fault.judge(row(2, 3))).toEqual(findFault("instance-kill")!.judge(row(2, 3)));
    expect(fault.judge(row(2, 3)).length).toBeGreaterThan(0);
  });
});
