/**
 * The instance-memory drill's own logic: the limit it sets, the unit values it sets back, where it
 * applies, and its verdict (instance-kill's). The OOM kill itself runs on the VM bed
 * (bun deploy/test/vm-drill.ts --fault instance-memory) where the kernel holds the unit's limit:
 * it needs systemd as PID 1 and root. Here its systemctl calls are answered by the test.
 */
import { describe, expect, test } from "bun:test";
import { findFault } from "./faults.ts";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isInstanceUnit, kernelLimitFile, loweredLimitBytes, overKernelLimit, parseShow, restoreAssignments, runtimeDropIn, type KernelOps } from "./memory-fault.ts";
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

  /** systemctl answered as systemd would for linkfort@8082; `killAt`: the systemctl call after which the process is gone (never: null). */
  function machine(killAt: "MemoryMax" | null, result = "oom-kill", dropInsThere = false) {
    const calls: string[] = [];
    const removed: string[] = [];
    let dead = false;
    const ops: KernelOps = {
      systemctl(args) {
        calls.push(args.join(" "));
        if (killAt && args[0] === "set-property" && args.at(-1)!.startsWith(`${killAt}=`) && !args.at(-1)!.startsWith("MemoryMax=805306368")) dead = true;
        if (args[0] === "show" && args.includes("Result")) return `Result=${result}\n`;
        if (args[0] === "show") return "MemoryMax=805306368\nMemorySwapMax=infinity\n";
        return "";
      },
      alive: () => !dead, rss: async () => 80 * 1024 * 1024, exists: () => dropInsThere, remove: (f) => removed.push(f), killDeadlineMs: 300,
    };
    return { ops, calls, removed };
  }

  test("the kernel path: swap off, then MemoryMax under the RSS, the OOM kill confirmed, the unit's values set back and the drill's drop-ins removed", async () => {
    const { ops, calls, removed } = machine("MemoryMax");
    const note = await overKernelLimit(4242, "linkfort@8082.service", ops);
    expect(calls).toEqual([
      "show -p MemoryMax -p MemorySwapMax linkfort@8082.service",
      "set-property --runtime linkfort@8082.service MemorySwapMax=0",
      "set-property --runtime linkfort@8082.service MemoryMax=41943040",
      "show -p Result linkfort@8082.service",
      "set-property --runtime linkfort@8082.service MemoryMax=805306368 MemorySwapMax=infinity",
      "daemon-reload",
    ]);
    expect(removed).toEqual([runtimeDropIn("linkfort@8082.service", "MemoryMax"), runtimeDropIn("linkfort@8082.service", "MemorySwapMax")]);
    expect(note).toBe("linkfort@8082.service (pid 4242, RSS 80 MB): MemoryMax=40 MB and MemorySwapMax=0 at runtime; the kernel's OOM killer ended it (Result=oom-kill), systemd starts it again (Restart=); MemoryMax=805306368 MemorySwapMax=infinity set back");
  });

  test("an instance the kernel does not kill, or one that ended otherwise, fails the row, and the unit's values are set back all the same", async () => {
    const alive = machine(null);
    await expect(overKernelLimit(4242, "linkfort@8082.service", alive.ops)).rejects.toThrow("linkfort@8082.service (pid 4242, RSS 80 MB) still ran 0.3 s after MemoryMax=40 MB");
    expect(alive.calls.at(-2)).toBe("set-property --runtime linkfort@8082.service MemoryMax=805306368 MemorySwapMax=infinity");
    const other = machine("MemoryMax", "signal", true);
    await expect(overKernelLimit(4242, "linkfort@8082.service", other.ops)).rejects.toThrow("ended after MemoryMax=40 MB, but systemd did not record an OOM kill (Result=signal)");
    // Drop-ins that were there before the drill are the operator's: set back, not removed, no reload.
    expect(other.calls.at(-1)).toBe("set-property --runtime linkfort@8082.service MemoryMax=805306368 MemorySwapMax=infinity");
    expect(other.removed).toEqual([]);
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
