/**
 * The logger's line format, and its stdout batching in real child processes: lines held for the
 * end of an event-loop turn must all come out, in order, however the process ends.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "./logger.ts";

describe("log lines", () => {
  test("time, level, msg, then the base fields, then the event's; errors keep name, message and code", () => {
    const lines: string[] = [];
    const logger = createLogger("info", { service: "t", msg: "base cannot move msg" }, (line) => lines.push(line)).child({ port: 1 });
    logger.debug("hidden");
    const error = Object.assign(new TypeError("boom"), { code: "E1" });
    logger.warn("careful", { port: 2, error, none: undefined });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(Object.keys(line)).toEqual(["time", "level", "msg", "service", "port", "error"]);
    expect(line).toEqual({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), level: "warn", msg: "base cannot move msg", service: "t", port: 2, error: { name: "TypeError", message: "boom", code: "E1" } });
  });
});

// A child that logs COUNT lines over several turns, the last batch in the same turn as its end.
// Touching process.stdout first makes Bun switch fd 1 to non-blocking, as a real service does;
// the lines are long so that they overflow the pipe and a full pipe has to be waited for.
const CHILD = `
import { writeSync } from "node:fs";
import { createLogger } from ${JSON.stringify(join(import.meta.dir, "logger.ts"))};
const [how, count] = [process.argv[2], Number(process.argv[3])];
process.stdout.write("start\\n");
const logger = createLogger("info", { pad: "x".repeat(200) });
let n = 0;
const some = (k) => { for (let i = 0; i < k && n < count; i++) logger.info("line", { n: n++ }); };
const turn = () => {
  some(Math.ceil(count / 4));
  if (n < count) return void setTimeout(turn, 1);
  writeSync(2, "ending\\n");
  if (how === "exit") process.exit(0);
  if (how === "fatal") throw new Error("fatal");
};
turn();
`;

const dir = await mkdtemp(join(tmpdir(), "linkfort-logger-"));
afterAll(() => rm(dir, { recursive: true, force: true }), 30_000);

async function runChild(how: "exit" | "fatal" | "natural", count: number) {
  const script = join(dir, "child.ts");
  const errFile = join(dir, `${how}.err`);
  const codeFile = join(dir, `${how}.code`);
  await Bun.write(script, CHILD);
  // The reader starts only once the child says it is ending, so the child's last writes meet a
  // full pipe (Bun.spawn's own pipe would be drained eagerly and hide that).
  const shell = `("$0" "$1" ${how} ${count} 2>"$2"; echo $? >"$3") | (until grep -q ending "$2" 2>/dev/null; do sleep 0.01; done; cat)`;
  const proc = Bun.spawn(["sh", "-c", shell, process.execPath, script, errFile, codeFile], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const lines = out.split("\n").filter(Boolean);
  return {
    code: Number((await Bun.file(codeFile).text()).trim()),
    first: lines[0],
    numbers: lines.slice(1).map((l) => (JSON.parse(l) as { n: number }).n),
    err: await Bun.file(errFile).text(),
  };
}

describe("stdout batching", () => {
  const COUNT = 5_000;
  const inOrder = Array.from({ length: COUNT }, (_, i) => i);

  for (const [how, exitCode] of [["exit", 0], ["fatal", 1], ["natural", 0]] as const) {
    test(`a child that ends by ${how} prints every line in order`, async () => {
      const { code, first, numbers, err } = await runChild(how, COUNT);
      expect({ code, first, count: numbers.length }, err).toEqual({ code: exitCode, first: "start", count: COUNT });
      expect(numbers).toEqual(inOrder);
    }, 30_000);
  }
});

// Regression: with stdout stalled (journald stuck, a reader gone), the logger held every line in
// memory without bound. A child logs ~12 MB into a pipe nobody reads until it reports.
const STALLED = `
import { writeSync } from "node:fs";
import { createLogger, stdoutLogStats } from ${JSON.stringify(join(import.meta.dir, "logger.ts"))};
const count = Number(process.argv[2]);
// Not process.stdout: the logger alone must make fd 1 non-blocking, or this child blocks for good.
writeSync(1, "start\\n");
const logger = createLogger("info", { pad: "x".repeat(1000) });
let n = 0;
const turn = () => {
  for (let i = 0; i < 500 && n < count; i++) logger.info("line", { n: n++ });
  if (n < count) return void setTimeout(turn, 1);
  writeSync(2, JSON.stringify(stdoutLogStats()) + "\\n");
  // The reader starts now; once the backlog is out, one more line says what was lost.
  const wait = setInterval(() => {
    if (stdoutLogStats().heldBytes > 0) return;
    clearInterval(wait);
    logger.info("after the stall");
  }, 5);
};
turn();
`;

describe("a stdout nobody reads", () => {
  test("holds at most STDOUT_HELD_MAX_BYTES, drops the rest, and the next line that gets out counts them", async () => {
    const { STDOUT_HELD_MAX_BYTES } = await import("./logger.ts");
    const COUNT = 12_000;
    const script = join(dir, "stalled.ts");
    const errFile = join(dir, "stalled.err");
    await Bun.write(script, STALLED);
    // The reader waits for the report (or for a child that died before making one; `timeout`
    // ends one blocked in a write, so a regression fails instead of hanging).
    const shell = `(timeout 30 "$0" "$1" ${COUNT} 2>"$2"; touch "$2.done") | (until grep -q heldBytes "$2" 2>/dev/null || [ -e "$2.done" ]; do sleep 0.01; done; cat)`;
    const proc = Bun.spawn(["sh", "-c", shell, process.execPath, script, errFile], { stdout: "pipe", stderr: "inherit" });
    const out = await new Response(proc.stdout).text();
    const err = await Bun.file(errFile).text();
    expect(await proc.exited, err).toBe(0);
    const report = JSON.parse(err.split("\n").find((l) => l.includes("heldBytes")) ?? "null") as { heldBytes: number; dropped: number } | null;
    expect(report, err).not.toBeNull();
    expect(report!.heldBytes, err).toBeLessThanOrEqual(STDOUT_HELD_MAX_BYTES);
    expect(report!.dropped, err).toBeGreaterThan(0);

    const lines = out.split("\n").filter(Boolean).slice(1).map((l) => JSON.parse(l) as { msg: string; n?: number; log_lines_dropped?: number });
    const kept = lines.filter((l) => l.msg === "line").map((l) => l.n);
    // What got out is a prefix in order: lines are dropped at the tail, never reordered.
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => i));
    expect(lines.at(-1)).toMatchObject({ msg: "after the stall", log_lines_dropped: report!.dropped });
    expect(kept.length + report!.dropped).toBe(COUNT);
  }, 60_000);
});
