import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openTimeline } from "./timeline.ts";

const dir = await mkdtemp(join(tmpdir(), "linkfort-timeline-"));
afterAll(() => rm(dir, { recursive: true, force: true }));
const failOnWriteError = (error: unknown) => { throw error; };

describe("the incident timeline", () => {
  test("turns the listed log records into events, ignores the rest, and keeps them across a reopen with alert durations", async () => {
    const path = join(dir, "state", ".console-timeline.jsonl");
    const first = await openTimeline(path, failOnWriteError);
    first.observe({ time: "2026-01-01T10:00:00.000Z", level: "info", msg: "supervisor started" });
    first.observe({ time: "2026-01-01T10:00:01.000Z", level: "info", msg: "request" });
    first.observe({ time: "2026-01-01T10:01:00.000Z", level: "warn", msg: "instance exited", port: 8082, code: null, signal: "SIGKILL" });
    first.observe({ time: "2026-01-01T10:01:00.500Z", level: "error", msg: "alert raised", key: "instance-down:8082", severity: "critical", title: "Instance 8082 is down", detail: "killed" });
    await first.flushed();
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    // The supervisor restarts; the resolve that follows still gets its duration.
    const second = await openTimeline(path, failOnWriteError);
    second.observe({ time: "2026-01-01T10:01:30.500Z", level: "info", msg: "alert resolved", key: "instance-down:8082", title: "Instance 8082 is down" });
    second.observe({ time: "2026-01-01T10:02:00.000Z", level: "info", msg: "rolling restart finished", ok: true, detail: "restarted 3", duration_s: 12.5 });
    await second.flushed();
    expect(second.list()).toEqual([
      { at: "2026-01-01T10:02:00.000Z", kind: "deploy", severity: "info", title: "rolling restart", cause: "restarted 3", duration_seconds: 12.5 },
      { at: "2026-01-01T10:01:30.500Z", kind: "resolved", severity: "info", title: "Instance 8082 is down", cause: null, duration_seconds: 30, key: "instance-down:8082" },
      { at: "2026-01-01T10:01:00.500Z", kind: "alert", severity: "critical", title: "Instance 8082 is down", cause: "killed", duration_seconds: null, key: "instance-down:8082" },
      { at: "2026-01-01T10:01:00.000Z", kind: "crash", severity: "critical", title: "instance 8082 exited", cause: "signal SIGKILL", duration_seconds: null },
      { at: "2026-01-01T10:00:00.000Z", kind: "supervisor", severity: "info", title: "supervisor started", cause: null, duration_seconds: null },
    ]);
  });

  test("a long file is cut back to the newest 500 events at open; a torn last line is skipped", async () => {
    const path = join(dir, "long.jsonl");
    const line = (i: number) => JSON.stringify({ at: new Date(i * 1000).toISOString(), kind: "backup", severity: "info", title: `backup ${i}`, cause: null, duration_seconds: null });
    await writeFile(path, `${Array.from({ length: 2_500 }, (_, i) => line(i)).join("\n")}\n{"at":"torn`);
    const timeline = await openTimeline(path, failOnWriteError);
    expect(timeline.list()).toHaveLength(500);
    expect(timeline.list()[0]!.title).toBe("backup 2499");
    expect((await readFile(path, "utf8")).trim().split("\n")).toHaveLength(500);
  });
});
