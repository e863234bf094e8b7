import { describe, expect, test } from "bun:test";
import { createLogger } from "../../../service/src/lib/logger.ts";
import { createLogBuffer, teeLogger } from "./log-buffer.ts";

describe("the live log buffer", () => {
  test("keeps only the newest lines, each numbered, and hands every line to subscribers", () => {
    const logs = createLogBuffer(3);
    const seen: number[] = [];
    const unsubscribe = logs.subscribe((e) => seen.push(e.seq));
    for (let i = 1; i <= 5; i++) logs.add("supervisor", { level: "info", msg: `line ${i}` });
    unsubscribe();
    logs.add("supervisor", { level: "info", msg: "line 6" });
    expect(logs.recent({}).map((e) => [e.seq, e.msg])).toEqual([[4, "line 4"], [5, "line 5"], [6, "line 6"]]);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  test("instance lines: JSON records keep level, message and request id; other text is kept as a message", () => {
    const logs = createLogBuffer();
    logs.addLine("8081", JSON.stringify({ time: "2026-01-01T00:00:00.000Z", level: "warn", msg: "request", service: "linkfort", request_id: "r-1", route: "/urls", status: 503, error: { name: "E" } }));
    logs.addLine("8081", "lf_plain text the instance printed");
    logs.addLine("8082", "   ");
    expect(logs.recent({})).toEqual([
      { seq: 1, time: "2026-01-01T00:00:00.000Z", level: "warn", source: "8081", msg: "request", request_id: "r-1", detail: 'route=/urls status=503 error={"name":"E"}', probe: false },
      expect.objectContaining({ seq: 2, level: "info", source: "8081", msg: "lf_plain text the instance printed", request_id: null }),
    ]);
  });

  test("filters by level and up, by source, by request id, and can hide probe and scrape lines", () => {
    const logs = createLogBuffer();
    logs.add("8081", { level: "debug", msg: "noise" });
    logs.add("8081", { level: "info", msg: "request", route: "/metrics", request_id: "a" });
    logs.add("8082", { level: "info", msg: "request", route: "/urls", request_id: "b" });
    logs.add("supervisor", { level: "error", msg: "restart failed" });
    const msgs = (f: Parameters<typeof logs.recent>[0]) => logs.recent(f).map((e) => `${e.source} ${e.msg} ${e.request_id ?? "-"}`);
    expect(msgs({ level: "info" })).toEqual(["8081 request a", "8082 request b", "supervisor restart failed -"]);
    expect(msgs({ level: "warn" })).toEqual(["supervisor restart failed -"]);
    expect(msgs({ source: "8082" })).toEqual(["8082 request b"]);
    expect(msgs({ requestId: "a" })).toEqual(["8081 request a"]);
    expect(msgs({ level: "info", hideProbes: true })).toEqual(["8082 request b", "supervisor restart failed -"]);
  });

  test("the tee logger writes through and records at its level, with a child's fields", () => {
    const written: string[] = [];
    const recorded: unknown[] = [];
    const base = createLogger("info", {}, (line) => { written.push(line); });
    const logger = teeLogger(base, (fields) => recorded.push(fields), "info").child({ port: 8081 });
    logger.debug("hidden");
    logger.warn("instance down", { error: new Error("boom") });
    expect(written.map((l) => JSON.parse(l).msg)).toEqual(["instance down"]);
    expect(recorded).toEqual([expect.objectContaining({ level: "warn", msg: "instance down", port: 8081 })]);
  });
});
